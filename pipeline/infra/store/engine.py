"""The connection: one SQLite file or one PostgreSQL database, behind the same few calls.

The repositories write their SQL once, with ``?`` placeholders, in the dialect both engines share
(SQLite >= 3.35 has ``ON CONFLICT DO NOTHING`` and ``RETURNING`` like PostgreSQL); this module turns
``?`` into psycopg's ``%s``. A thin layer over the two DB-API drivers rather than SQLAlchemy Core:
importing SQLAlchemy takes 0.25-0.5 s on this machine, the whole budget of ``newsletter status``,
and the store's SQL is plain enough not to need it. psycopg is imported only for a PostgreSQL URL.

Transactions are explicit: ``transaction()`` begins one (SQLite: ``BEGIN IMMEDIATE``, so that a
writer waits for the file's lock at the start, not halfway; PostgreSQL: ``BEGIN``), commits it at the
end of the block and rolls it back on any error. Outside one, every statement commits by itself.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_url(target: str | Path) -> bool:
    """Whether a state setting names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def masked(target: str | Path) -> str:
    """The target as it may be shown: a URL's password replaced by *** (up to the last '@', since a
    password may hold an '@' that was not written as %40)."""
    if not is_url(target):
        return str(target)
    return re.sub(r"^(\w+://[^:/@]*:).*@", r"\1***@", str(target))


def without_password(text: str, target: str | Path) -> str:
    """``text`` (a driver's error, which may quote the URL or a part of it: "invalid percent-encoded
    token: ...", "failed to resolve host ...") without the target's password, whole or in parts."""
    m = re.match(r"^\w+://[^:/@]*:(.*)@", str(target)) if is_url(target) else None
    if m is None:
        return text
    from urllib.parse import unquote

    secret = m.group(1)
    pieces = {secret, unquote(secret), *secret.split("@"), *unquote(secret).split("@")}
    for piece in sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True):
        text = text.replace(piece, "***")
    return masked(text)


class Row(Protocol):
    """A row by column name or position (sqlite3.Row and the PostgreSQL rows alike)."""

    def __getitem__(self, key: str | int, /) -> Any: ...


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class _PgRow(tuple[Any, ...]):
    """A PostgreSQL row that answers to a column's name as well as its position, like sqlite3.Row."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _pg_rows(cursor: Any) -> Any:
    description = cursor.description or ()
    kind = type("Row", (_PgRow,), {"names": {c.name: i for i, c in enumerate(description)}})
    return kind


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class Database:
    """One open connection. ``kind`` is 'sqlite' or 'postgresql'; ``shown`` names it for people."""

    def __init__(self, target: str | Path) -> None:
        self.shown = masked(target)
        self.kind = "postgresql" if is_url(target) else "sqlite"
        if self.kind == "postgresql":
            import psycopg

            self._pg = psycopg
            conn = psycopg.connect(str(target), autocommit=True, application_name="newsletter")
            conn.row_factory = _pg_factory
            # Every statement is planned for its values. psycopg prepares a statement run five
            # times, and PostgreSQL would then keep one generic plan, chosen while a table was still
            # small: collect's lookups of items by id became sequential scans of a table that grows
            # through the run (10 ms each by its end, rather than 0.1 ms).
            conn.execute("SET plan_cache_mode = force_custom_plan")
            # No JIT: with the statistics of a 100,000-row ledger the planner compiled the send's
            # statements that touch it once each (0.38 s of compiling for an UPDATE that changed no row).
            conn.execute("SET jit = off")
            self.raw: Any = conn
            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
            self.integrity: tuple[type[Exception], ...] = (psycopg.IntegrityError,)
        else:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (see ``transaction``).
            db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            _write_ahead(db)
            db.execute("PRAGMA synchronous=FULL")  # a sent-mail record must survive a power cut
            db.execute("PRAGMA foreign_keys=ON")
            self.raw = db
            self.errors = (sqlite3.DatabaseError,)
            self.integrity = (sqlite3.IntegrityError,)

    @property
    def postgres(self) -> bool:
        return self.kind == "postgresql"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        if self.postgres:
            return self.raw.execute(_pg_sql(sql), tuple(args))
        return self.raw.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            with self.raw.cursor() as cursor:
                cursor.executemany(_pg_sql(sql), rows)
        else:
            self.raw.executemany(sql, rows)

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """PostgreSQL only: stream rows into a table with ``COPY ... FROM STDIN`` (one round trip for
        them all, rather than one per row); returns how many. The rows are not held in memory."""
        assert self.postgres, "COPY is PostgreSQL's"
        n = 0
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.raw.cursor() as cursor, cursor.copy(sql) as stream:
            for row in rows:
                stream.write_row(row)
                n += 1
        return n

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements run inside are sent without waiting for each answer (PostgreSQL's pipeline
        mode: one round trip for many writes; an error is raised at the end of the block, at the
        latest). Only for statements whose results are not read. SQLite runs them as they come."""
        if not self.postgres:
            yield
            return
        with self.raw.pipeline():
            yield

    def scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, args).fetchone()
        return None if row is None else row[0]

    @property
    def in_transaction(self) -> bool:
        if self.postgres:
            return bool(self.raw.info.transaction_status != self._pg.pq.TransactionStatus.IDLE)
        return bool(self.raw.in_transaction)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN ... COMMIT; rolled back on any error, so a crash leaves no half-write.

        Inside another transaction it is part of that one (its COMMIT covers both)."""
        if self.in_transaction:
            yield self
            return
        self.raw.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        else:
            self.raw.execute("COMMIT")

    def change_marker(self) -> str:
        """A value that differs once anyone else has committed a change (SQLite's data_version; on
        PostgreSQL the server's write-ahead log position, which moves with every write)."""
        if self.postgres:
            return str(self.scalar("SELECT pg_current_wal_lsn()"))
        return str(self.raw.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self.raw.close()


def _pg_factory(cursor: Any) -> Any:
    kind = _pg_rows(cursor)
    return lambda values: kind(values)


def _write_ahead(db: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put a SQLite database in WAL mode. Switching a new file over needs it to itself, and SQLite
    answers "locked" at once there instead of waiting (its busy timeout does not apply): two
    processes opening a fresh state database together wait for each other here."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
