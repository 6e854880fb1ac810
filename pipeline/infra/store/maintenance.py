"""Moving and upgrading the state database: its version, an upgrade, a copy to another engine, a check.

``newsletter db`` calls these; they open the database themselves (``open_existing``) rather than
through ``Store``, which would upgrade it on the way in: ``check`` reports an old schema instead
of changing it, and ``upgrade`` shows the version before and after.

The copy takes every table in ``TABLES`` (in an order that keeps references whole), streams each
one from the source in batches and writes it to the target in one transaction, then counts the
rows on both sides before it commits: a copy is whole or not there at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.domain.errors import StateError
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.models import DeliveryState
from pipeline.infra.store.engine import Database, is_url, masked, without_password
from pipeline.infra.store.schema import LATEST, migrate

# Every table of the schema, each after the tables it refers to (items before item_themes, sent
# issues before their items). A new table must be added here: a test compares this list with the
# tables the migrations create, so that the copy cannot leave one behind.
TABLES = (
    "items", "item_themes", "sources", "sent_issues", "sent_items", "deliveries", "delivery_batches",
    "send_attempts", "recalls", "reminders", "subscribers", "consents", "signup_tokens", "events",
    "counters", "rate_keys", "rate_hits", "suppressions", "keys", "sent_editions", "portal_tokens",
    "portal_sessions", "portal_saves",
)  # fmt: skip

# The consent history's guards: SQLite's two triggers, PostgreSQL's two (one for TRUNCATE).
CONSENT_TRIGGERS = {
    "sqlite": ("consents_never_deleted", "consents_never_updated"),
    "postgresql": ("consents_never_changed", "consents_never_truncated"),
}

# PostgreSQL's references of item_themes to items (migration 13).
ITEM_TRIGGERS = ("item_themes_inserted", "item_themes_updated", "items_deleted", "items_updated")

BATCH = 2000  # rows read and written at a time: memory stays flat however big a table is


def open_existing(target: Path | str) -> Database:
    """The database at ``target`` as it is (not upgraded); a SQLite file must exist already."""
    if not is_url(target) and not Path(target).exists():
        raise StateError(
            _("there is no state database at {path} yet").format(path=target),
            _("check newsletter.state in sources.yaml; a new instance gets one when it first collects"),
        )
    try:
        return Database(target)
    except Exception as e:
        raise _unusable(target, e) from None


def version(db: Database) -> int:
    """The schema version the database is at (0: empty)."""
    if db.postgres:
        exists = db.scalar("SELECT to_regclass('schema_version') IS NOT NULL")
        if not exists:
            return 0
        return int(db.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))
    return int(db.scalar("PRAGMA user_version"))


def upgrade(target: Path | str) -> tuple[int, int]:
    """Run the migrations the database lacks; (version before, version after)."""
    with closing(open_existing(target)) as db, _as_unusable(target):
        before = version(db)
        migrate(db)
        return before, version(db)


# -- what copy needs ------------------------------------------------------------------------------
def columns(db: Database, table: str) -> list[str]:
    """A table's columns, in the order the database keeps them."""
    cursor: Any = db.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return [d[0] for d in cursor.description]


def count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))


def stream_rows(
    db: Database, table: str, names: list[str], size: int = BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    """A table's rows, ``size`` at a time, in the order of its key (a stable order on both engines)."""
    cursor: Any = db.execute(f"SELECT {', '.join(names)} FROM {table}")
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield [tuple(r) for r in rows]


def insert_rows(db: Database, table: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Write rows as they are (ids included); PostgreSQL takes them through COPY, the fast way in."""
    if not rows:
        return
    if db.postgres:
        with db.raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    db.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)


def _after_copy(db: Database) -> None:
    """Numbers the target hands out next continue after the copied ones (PostgreSQL's identity)."""
    if db.postgres:
        for table in ("consents", "portal_saves"):
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false)"
                f" FROM {table}"
            )


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def copy(source: Path | str, target: Path | str) -> list[Copied]:
    """Copy every table of ``source`` into ``target`` (a new, empty database: refused otherwise).

    The source is upgraded first (as any command would), the target gets the latest schema. The
    rows go in one transaction per copy, and the count of each table is compared on both sides
    before the commit: any difference, and nothing was copied.
    """
    if masked(source) == masked(target) or (
        not is_url(source) and not is_url(target) and Path(source).resolve() == Path(target).resolve()
    ):
        raise StateError(
            _("the copy's target is its source ({path})").format(path=masked(target)),
            _("give --to a new, empty database"),
        )
    upgrade(source)
    src = open_existing(source)
    try:
        try:
            dst = Database(target)
        except Exception as e:
            raise _unusable(target, e) from None
        with closing(dst), _as_unusable(target):
            migrate(dst)
            filled = [(t, n) for t in TABLES if (n := count(dst, t))]
            if filled:
                tables = ", ".join(f"{t} ({n})" for t, n in filled)
                raise StateError(
                    _("the target {target} is not empty: {tables}").format(target=dst.shown, tables=tables),
                    _("copy into a new, empty database (createdb newsletter_new, then --to"
                      " postgresql://.../newsletter_new), or drop and create this one again first"),
                )  # fmt: skip
            done: list[Copied] = []
            with dst.transaction():
                for table in TABLES:
                    names = columns(src, table)
                    for rows in stream_rows(src, table, names):
                        insert_rows(dst, table, names, rows)
                    done.append(Copied(table, count(dst, table)))
                _after_copy(dst)
                differ = [
                    (c.table, count(src, c.table), c.rows) for c in done if count(src, c.table) != c.rows
                ]
                if differ:
                    detail = ", ".join(f"{t}: {a} -> {b}" for t, a, b in differ)
                    raise StateError(
                        _(
                            "the copy's row counts differ from the source's ({detail}); nothing was copied"
                        ).format(detail=detail),
                        _("stop every newsletter command that writes to the source, then copy again"),
                    )
            return done
    finally:
        src.close()


# -- check ----------------------------------------------------------------------------------------
def check(target: Path | str) -> list[str]:
    """What is wrong with the database, one sentence each with its fix (empty: nothing)."""
    db = open_existing(target)
    try:
        return _problems(db)
    except Exception as e:
        raise _unusable(target, e) from None
    finally:
        db.close()


def _problems(db: Database) -> list[str]:
    problems = _integrity(db)
    if problems:  # a damaged file answers nothing else reliably
        return problems
    at = version(db)
    if at < LATEST:
        problems.append(
            _(
                "the schema is at version {at}, this release uses {latest}: run 'newsletter db upgrade'"
            ).format(at=at, latest=LATEST)
        )
        return problems
    if at > LATEST:
        problems.append(
            _(
                "the schema is at version {at}, newer than this release ({latest}): upgrade the pipeline"
            ).format(at=at, latest=LATEST)
        )
        return problems
    present = _tables(db)
    missing = [t for t in TABLES if t not in present]
    if missing:
        problems.append(_("tables are missing: {tables}; restore a backup").format(tables=", ".join(missing)))
        return problems
    problems += _triggers(db)
    if db.postgres:
        problems += _references(db)
    problems += _ledger(db)
    return problems


def _integrity(db: Database) -> list[str]:
    if db.postgres:
        bad = [r[0] for r in db.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready) ORDER BY 1"
        )]  # fmt: skip
        return [
            _("the index {index} is not valid: run REINDEX INDEX {index} (psql)").format(index=name)
            for name in bad
        ]
    out: list[str] = []
    try:
        answers = [str(r[0]) for r in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as e:
        answers = [str(e)]
    if answers != ["ok"]:
        for answer in answers[:10]:
            out.append(
                _(
                    "the file is damaged ({detail}): restore a backup, or move it aside and collect afresh"
                ).format(detail=answer)
            )
        return out
    for row in db.execute("PRAGMA foreign_key_check"):
        out.append(
            _("a row of {table} refers to a missing row of {parent}: restore a backup").format(
                table=row[0], parent=row[2]
            )
        )
    return out


def _references(db: Database) -> list[str]:
    """PostgreSQL's item_themes refers to items through triggers (migration 13), not a foreign key:
    that they are there and that no row lost its item (SQLite's foreign_key_check does the same)."""
    present = _enabled_triggers(db, "items", "item_themes")
    out = [
        _(
            "the trigger {name} that keeps each theme's item is missing or disabled:"
            " restore a backup, or recreate it as in pipeline/infra/store/migrations/"
        ).format(name=name)
        for name in ITEM_TRIGGERS
        if name not in present
    ]
    orphan = "SELECT 1 FROM item_themes t WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = t.item)"
    if db.execute(orphan + " LIMIT 1").fetchone():
        out.append(
            _("a row of {table} refers to a missing row of {parent}: restore a backup").format(
                table="item_themes", parent="items"
            )
        )
    return out


def _tables(db: Database) -> set[str]:
    if db.postgres:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(r[0]) for r in db.execute(sql)}


def _enabled_triggers(db: Database, *tables: str) -> set[str]:
    """The names of the triggers on these tables that are there and enabled."""
    marks = ", ".join("?" for _ in tables)
    if db.postgres:
        sql = (
            f"SELECT tgname FROM pg_trigger WHERE tgrelid::regclass::text IN ({marks})"
            " AND NOT tgisinternal AND tgenabled <> 'D'"
        )
    else:
        sql = f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})"
    return {str(r[0]) for r in db.execute(sql, tables)}


def _triggers(db: Database) -> list[str]:
    present = _enabled_triggers(db, "consents")
    return [
        _(
            "the trigger {name} that keeps the consent history append-only is missing or disabled:"
            " restore a backup, or recreate it as in pipeline/infra/store/migrations/"
        ).format(name=name)
        for name in CONSENT_TRIGGERS[db.kind]
        if name not in present
    ]


def _ledger(db: Database) -> list[str]:
    out: list[str] = []
    states = tuple(s.value for s in DeliveryState)
    marks = ", ".join("?" for _ in states)
    for issue, state, n in db.execute(
        f"SELECT issue, state, count(*) FROM deliveries WHERE state NOT IN ({marks}) GROUP BY issue, state"
        " ORDER BY issue, state",
        states,
    ):
        out.append(
            ngettext(
                "issue {issue}: {n} subscriber in the unknown ledger state {state!r}: restore a backup",
                "issue {issue}: {n} subscribers in the unknown ledger state {state!r}: restore a backup",
                n,
            ).format(issue=issue, n=n, state=state)
        )
    # A subscriber accepted in a request the ledger says is unknown (or the other way round): one of
    # the two is wrong, and the report would count that person as both sent and in doubt.
    for issue, batch, mine, theirs, n in db.execute(
        "SELECT d.issue, d.batch, d.state, b.state, count(*) FROM deliveries d"
        " JOIN delivery_batches b ON b.issue = d.issue AND b.batch = d.batch"
        " WHERE d.state IN ('accepted', 'unknown') AND b.state IN ('accepted', 'unknown')"
        " AND d.state <> b.state GROUP BY d.issue, d.batch, d.state, b.state ORDER BY 1, 2"
    ):
        out.append(
            ngettext(
                "issue {issue}, request {batch}: {n} subscriber is {mine} but the request is {theirs}:"
                " restore a backup; do not resend before it is settled",
                "issue {issue}, request {batch}: {n} subscribers are {mine} but the request is {theirs}:"
                " restore a backup; do not resend before it is settled",
                n,
            ).format(issue=issue, batch=batch, n=n, mine=mine, theirs=theirs)
        )
    for issue, n in db.execute(
        "SELECT d.issue, count(*) FROM deliveries d WHERE d.state = 'in_flight' AND NOT EXISTS"
        " (SELECT 1 FROM delivery_batches b WHERE b.issue = d.issue AND b.batch = d.batch)"
        " GROUP BY d.issue ORDER BY 1"
    ):
        out.append(
            ngettext(
                "issue {issue}: {n} subscriber in flight in no recorded request: restore a backup",
                "issue {issue}: {n} subscribers in flight in no recorded request: restore a backup",
                n,
            ).format(issue=issue, n=n)
        )
    for issue, last, counter in db.execute(
        "SELECT b.issue, max(b.batch), c.value FROM delivery_batches b LEFT JOIN counters c"
        " ON c.name = 'batch:' || b.issue GROUP BY b.issue, c.value ORDER BY 1"
    ):
        if counter is None or int(counter) < int(last):
            out.append(
                _(
                    "issue {issue}: the request counter ({counter}) is behind the last request ({last}),"
                    " so the next send would reuse a number: restore a backup"
                ).format(issue=issue, counter=counter if counter is not None else 0, last=last)
            )
    return out


@contextmanager
def _as_unusable(target: Path | str) -> Iterator[None]:
    """Any error inside but a ``StateError`` (which carries its own fix) as ``_unusable``."""
    try:
        yield
    except StateError:
        raise
    except Exception as e:
        raise _unusable(target, e) from None


def _unusable(target: Path | str, error: BaseException) -> StateError:
    return StateError(
        _("cannot use the state database {target}: {error}").format(
            target=masked(target), error=without_password(str(error), target)
        ),
        _("check the path or the URL (host, port, database, user and password), and that PostgreSQL runs"),
    )
