"""The state database: everything the pipeline remembers between runs.

One SQLite file in WAL mode (``state/newsletter.sqlite3`` by default), or one PostgreSQL database
when ``newsletter.state`` (or the environment's ``NEWSLETTER_DATABASE_URL``) is a
``postgresql://`` URL: then several hosts share the state. The package:

- ``engine``: the connection, transactions and the SQL both engines share;
- ``schema``: the numbered migrations of each engine, run when a store opens;
- one repository per concern: ``items`` (items and sources), ``ledger`` (issues and the send
  ledger), ``audience`` (subscribers, consent, sign-up limits), ``events`` (SendGrid's events and
  clicks), ``reminders`` (monitor's reminders), ``portal`` (the partner portal's sign-ins and saves);
  ``Store`` is all of them on one connection;
- ``values``: the typed values they take and return;
- ``locks``: the PostgreSQL advisory locks ``pipeline.infra.locking`` takes for a shared database.
- ``maintenance``: ``newsletter db``'s upgrade, copy to another database, and check.

No stage writes SQL or touches the connection: they call the store's methods.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.domain.config import Settings
from pipeline.domain.errors import StateError
from pipeline.infra.store.audience import Audience, Reader
from pipeline.infra.store.engine import Database, is_url, masked, without_password
from pipeline.infra.store.events import Events
from pipeline.infra.store.items import Items, ItemWrites
from pipeline.infra.store.ledger import Ledger
from pipeline.infra.store.portal import Portal, PortalSave, PortalSession
from pipeline.infra.store.reminders import Reminders
from pipeline.infra.store.schema import MIGRATIONS, migrate
from pipeline.infra.store.values import (
    IMPORTABLE,
    INACTIVE,
    VIA_CONFIRM,
    VIA_IMPORT,
    VIA_SIGNUP,
    Attempt,
    ClickCount,
    Consent,
    DeliveryBatch,
    Event,
    KnownItem,
    Person,
    Recall,
    Reminder,
    SentIssue,
    SentPlacement,
    SourceState,
    Subscriber,
    item_from_json,
    item_to_json,
)

__all__ = [
    "IMPORTABLE",
    "INACTIVE",
    "MIGRATIONS",
    "VIA_CONFIRM",
    "VIA_IMPORT",
    "VIA_SIGNUP",
    "Attempt",
    "ClickCount",
    "Consent",
    "DeliveryBatch",
    "Event",
    "ItemWrites",
    "KnownItem",
    "Person",
    "PortalSave",
    "PortalSession",
    "Reader",
    "Recall",
    "Reminder",
    "SentIssue",
    "SentPlacement",
    "SourceState",
    "Store",
    "Subscriber",
    "has_state",
    "is_url",
    "item_from_json",
    "item_to_json",
    "masked",
]  # fmt: skip


def has_state(settings: Settings) -> bool:
    """Whether there is a state database yet (a PostgreSQL one always is)."""
    return settings.shared or settings.state.exists()


class Store(Items, Ledger, Audience, Events, Reminders, Portal):
    """An open state database (a SQLite path or a PostgreSQL URL). Use as a context manager, or
    call ``close``."""

    def __init__(self, target: Path | str) -> None:
        self.path = target
        self.db = None  # type: ignore[assignment]
        try:
            if not is_url(target):
                target = Path(target)
            self.db = Database(target)
            migrate(self.db)
        except StateError:
            self.close()
            raise
        except Exception as e:
            self.close()
            if isinstance(e, OSError) or _database_error(e):
                raise _damaged(target, e) from None
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self.close()
        # Any SQL can meet a damaged page or a foreign table; the user gets the file and the fix,
        # not a traceback from deep inside a stage.
        if error is not None and _database_error(error) and not isinstance(error, self.db.integrity):
            raise _damaged(self.path, error) from None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A block whose writes through the store are kept all or none (a crash leaves no half-write);
        inside another block it is part of that one. The connection stays inside the store."""
        with self.db.transaction():
            yield

    def change_marker(self) -> str:
        """A value that differs once anything was written by anyone (the studio's "has anything
        changed since I looked")."""
        return self.db.change_marker()


def _database_error(error: BaseException) -> bool:
    import sqlite3

    if isinstance(error, sqlite3.DatabaseError):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.Error)


def _damaged(target: Path | str, error: BaseException) -> StateError:
    shown = masked(target)
    if is_url(target):
        return StateError(
            f"cannot use the state database {shown}: {without_password(str(error), target)}",
            "check that PostgreSQL runs and the URL in newsletter.state (or NEWSLETTER_DATABASE_URL) is"
            " right: host, port, database, user and password",
        )
    if "locked" in str(error):
        return StateError(
            f"the state database {shown} is locked: {error}", "wait for the other run to finish"
        )
    return StateError(
        f"cannot use the state database {shown}: {error}",
        "check the path in sources.yaml (newsletter.state); if the file is damaged or not this pipeline's,"
        " move it aside and restore a backup (or collect afresh into a new one)",
    )
