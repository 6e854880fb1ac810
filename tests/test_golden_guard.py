"""Golden files are never rewritten in CI: UPDATE_GOLDEN together with CI fails, and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = {
    "tests/test_curate_golden.py": [REPO / "tests" / "golden" / "curate" / "2026-12.yaml"],
    "tests/test_render_golden.py": [
        REPO / "tests" / "golden" / "render" / n for n in ("email.html", "email.txt", "web.html")
    ],
}


@pytest.mark.parametrize("test_file", list(GOLDEN))
def test_update_golden_in_ci_fails_and_rewrites_nothing(test_file: str) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in GOLDEN[test_file]}
    env = {**os.environ, "CI": "true", "UPDATE_GOLDEN": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", test_file, "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-2000:]
    assert "UPDATE_GOLDEN is set in CI: golden files are never rewritten there" in result.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in GOLDEN[test_file]} == before
