"""One process at a time per job (sending an issue, a cron run), with a lock that cannot get stuck.

``job_lock`` takes the job's lock where the state is: with a shared PostgreSQL database, one of its
advisory locks (``pipeline.core.store.locks``), which holds across hosts; with a SQLite file,
``exclusive`` on a lock file beside it (``state/locks/NAME.lock``).

``fcntl.flock`` on a lock file: the kernel releases it when the process ends in any way (exit,
crash, SIGKILL, power cut), so a killed send never blocks the next one. The file itself stays;
its content (the holder's pid) is only for people looking.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import PipelineError

if TYPE_CHECKING:
    from pipeline.core.config import Settings


class Busy(PipelineError):
    "Another process holds the lock for this job."


@contextmanager
def exclusive(lock_path: Path, what: str) -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the block, or raise ``Busy`` at once (never wait)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            raise Busy(
                f"{what} is already running (process {holder})",
                "wait for it to finish; a killed process releases the lock by itself",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def job_lock(settings: Settings, name: str, what: str) -> Iterator[None]:
    """Hold the lock of job ``name`` (e.g. 'run', 'send-2026-05') for the block, or raise ``Busy``."""
    if settings.database_url is None:
        with exclusive(settings.state.parent / "locks" / f"{name}.lock", what):
            yield
        return
    from pipeline.core.store.locks import advisory_lock

    with advisory_lock(settings.database_url, name) as taken:
        if not taken:
            raise Busy(
                f"{what} is already running (on this host or another sharing the database)",
                "wait for it to finish; a killed process releases the lock by itself",
            )
        yield
