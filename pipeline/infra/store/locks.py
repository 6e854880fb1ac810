"""PostgreSQL's advisory locks: one process at a time per job across every host sharing the database.

Session-level, on a connection of its own held open for the job: the server releases the lock when
that connection ends in any way (exit, crash, SIGKILL; a host that dies is noticed by TCP
keepalives within about a minute), so a killed job never blocks the next one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager


def lock_key(name: str) -> int:
    """A job's name as the signed 64-bit key PostgreSQL's advisory locks take."""
    return int.from_bytes(
        hashlib.blake2b(f"newsletter:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )


@contextmanager
def advisory_lock(url: str, name: str) -> Iterator[bool]:
    """Try the lock for ``name`` without waiting; yields whether it was taken (held for the block)."""
    import psycopg

    with psycopg.connect(
        url, autocommit=True, application_name=f"newsletter lock {name}",
        keepalives=1, keepalives_idle=20, keepalives_interval=5, keepalives_count=4,
    ) as conn:  # fmt: skip
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),)).fetchone()
        yield bool(row and row[0])
