"""A throwaway PostgreSQL for the tests: one cluster per session, one fresh database per test.

Debian's ``postgresql`` (scripts/test installs it): ``initdb`` and ``pg_ctl`` from
/usr/lib/postgresql/*/bin, run as the ``postgres`` user when the tests run as root, in a temporary
folder, listening only on a Unix socket in that folder (no TCP port, no shared server). Without
PostgreSQL the PostgreSQL variants skip locally and fail in CI (``CI=true``): CI skips neither engine.

``engine`` parametrizes a test over both engines: for 'postgresql' it points
``NEWSLETTER_DATABASE_URL`` at a new empty database, which every ``newsletter`` started by the test
and every ``load_config`` in it then uses.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.numbers = itertools.count(1)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}&port=5432"

    def new_database(self) -> str:
        import psycopg

        name = f"t{next(self.numbers)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def available() -> bool:
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of its own in a temporary folder, stopped and removed at the end (the
    tests' session fixture, and the benchmarks)."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    assert initdb is not None and pg_ctl is not None, "PostgreSQL is not installed"
    folder = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield Cluster(folder)
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    if not available():
        message = "PostgreSQL is not installed (apt-get install postgresql; scripts/test does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The state database's engine for this test; on 'postgresql' a fresh database of its own."""
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        monkeypatch.setenv("NEWSLETTER_DATABASE_URL", cluster.new_database())
    return str(request.param)
