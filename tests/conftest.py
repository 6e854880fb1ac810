"""Fixtures shared by every stage's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
SHARED = REPO.parent / "shared"


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    """A fresh copy of the demo instance (sources.yaml, submissions, local feeds)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the clone (CI and developers have it; a user's clone does not)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds the shared corpus and SendGrid spec (developers and CI only)")
    return SHARED


class Cli:
    """Runs `newsletter` in-process against one instance root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from pipeline.cli import main

        runner = CliRunner()
        return runner.invoke(main, ["--root", str(self.root), *args], input=input, catch_exceptions=False)


@pytest.fixture
def cli(demo_root: Path) -> Cli:
    return Cli(demo_root)
