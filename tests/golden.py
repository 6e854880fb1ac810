"""Golden files: compare an output with its file under tests/golden/, or rewrite it on request.

``UPDATE_GOLDEN=1`` rewrites the file (review the diff before committing it). Never in CI: there
the variable together with ``CI`` fails the test, so a CI job cannot turn a difference into a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def check_golden(path: Path, actual: str, what: str, regenerate: str) -> None:
    """Assert that ``actual`` equals the golden file ``path``; ``regenerate`` is the command to rewrite it."""
    if os.environ.get("UPDATE_GOLDEN"):
        if os.environ.get("CI"):
            pytest.fail(
                f"UPDATE_GOLDEN is set in CI: golden files are never rewritten there ({path}); unset"
                f" UPDATE_GOLDEN in the CI job, and run '{regenerate}' locally, then review the diff",
                pytrace=False,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run {regenerate}"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{what} differs from {path}; if the change is intended, run {regenerate} and review the diff"
    )
