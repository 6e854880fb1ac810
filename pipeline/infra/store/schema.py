"""The schema: numbered migrations, applied in order, each in a transaction, for either engine.

SQLite keeps its version in ``PRAGMA user_version`` and has the migrations 1 to 7 of earlier
releases, so that an old state file upgrades in place. PostgreSQL starts at migration 8 with the
whole schema of that version at once (``POSTGRES``), its version kept in ``schema_version``. A
database from a newer version is refused rather than guessed at. Append only; never edit a
migration that has been released.

The migrations themselves, as released, are in ``pipeline.infra.store.migrations`` (``sqlite``:
``MIGRATIONS``; ``postgres``: ``POSTGRES``; ``shared``: the SQL both add alike); a new table or column
is a migration appended to both lists, with the same number. Here: applying them.
"""

from __future__ import annotations

from pipeline.domain.errors import StateError
from pipeline.infra.store.engine import Database
from pipeline.infra.store.migrations import MIGRATIONS, POSTGRES

LATEST = max(v for v, _, _ in MIGRATIONS)
assert max(v for v, _, _ in POSTGRES) == LATEST


def _statements(sql: str) -> list[str]:
    return [s for s in sql.split(";\n") if s.strip()]


def migrate(db: Database) -> None:
    """Bring the database to the latest schema (a new one from nothing), or refuse a newer one."""
    if db.postgres:
        # Two processes starting at once on an empty database: the first migrates, the other waits.
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(7427341)")
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = int(db.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))
            _refuse_newer(db, current)
            for version, _what, sql in POSTGRES:
                if version <= current:
                    continue
                # A migration's statements sent at once (without parameters PostgreSQL takes several in
                # one query): a round trip a migration, not a statement (60 for a new database).
                db.raw.execute(sql)
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        return
    current = int(db.scalar("PRAGMA user_version"))
    _refuse_newer(db, current)
    for version, _what, sql in sorted(MIGRATIONS):
        if version <= current:
            continue
        with db.transaction():
            # Another process may have applied it meanwhile: the version is read again under the lock.
            if int(db.scalar("PRAGMA user_version")) >= version:
                continue
            for statement in _statements(sql):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")


def _refuse_newer(db: Database, current: int) -> None:
    if current > LATEST:
        raise StateError(
            f"the state database {db.shown} is from a newer version of the pipeline (schema {current})",
            "upgrade the pipeline (pip install -U newsletter-pipeline)",
        )


__all__ = ["LATEST", "MIGRATIONS", "POSTGRES", "migrate"]
