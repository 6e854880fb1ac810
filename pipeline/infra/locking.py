"""One process at a time per job (sending an issue, a cron run), with a lock that cannot get stuck.

``job_lock`` takes the job's lock where the state is: with a shared PostgreSQL database, one of its
advisory locks (``pipeline.infra.store.locks``), which holds across hosts; with a SQLite file,
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

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import N_, _

# What a second process is told, one whole sentence per job (``{name}``: the issue or the period):
# on one host, with the holder's process id; with a shared database, the holder may be elsewhere.
BUSY = {
    "send": N_("a send of issue {name} is already running (process {holder})"),
    "reminders": N_("a reminder run for {name} is already running (process {holder})"),
    "run": N_("another 'newsletter run' is already running (process {holder})"),
}
BUSY_SHARED = {
    "send": N_("a send of issue {name} is already running, on this host or another that shares the database"),
    "reminders": N_(
        "a reminder run for {name} is already running, on this host or another that shares the database"
    ),
    "run": N_(
        "another 'newsletter run' is already running, on this host or another that shares the database"
    ),
}
WAIT = N_("wait for it to finish; a killed process releases the lock by itself")
# The lock's own name per job: the lock file's (state/locks/NAME.lock) or the advisory lock's key.
LOCK_NAMES = {"send": "send-{name}", "reminders": "remind-{name}", "run": "run"}

if TYPE_CHECKING:
    from pipeline.domain.config import Settings


class Busy(PipelineError):
    "Another process holds the lock for this job."


@contextmanager
def exclusive(lock_path: Path, job: str, name: str = "") -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the block, or raise ``Busy`` at once (never wait).

    ``job`` is a key of ``BUSY`` (what the message says), ``name`` the issue or period it is for."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or _("unknown")
            raise Busy(_(BUSY[job]).format(name=name, holder=holder), _(WAIT)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def job_lock(settings: Settings, job: str, name: str = "") -> Iterator[None]:
    """Hold the lock of ``job`` (a key of ``BUSY``) for ``name`` (the issue or period) for the block,
    or raise ``Busy``: a lock file beside a SQLite state, an advisory lock in a shared PostgreSQL."""
    key = LOCK_NAMES[job].format(name=name)
    if settings.database_url is None:
        with exclusive(settings.state.parent / "locks" / f"{key}.lock", job, name):
            yield
        return
    from pipeline.infra.store.locks import advisory_lock

    with advisory_lock(settings.database_url, key) as taken:
        if not taken:
            raise Busy(_(BUSY_SHARED[job]).format(name=name), _(WAIT))
        yield
