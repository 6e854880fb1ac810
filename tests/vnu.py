"""The Nu HTML Checker (vnu.jar, from npm's ``vnu-jar``; package.json) for tests: many pages in ONE
Java run, the errors per file with their line.

    from vnu import validate

    errors = validate([report, *site_pages])      # {path: [Problem, ...]}, every path a key
    assert errors[report] == [], explain(errors[report])

Java comes from Debian's ``default-jre-headless`` (scripts/test installs it). Without Java or the
jar, a test skips and says what to install; in CI (``CI`` set) it fails instead: CI installs both,
so a checker that is missing there is a broken install, not a reason to check nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

JAR = Path(__file__).resolve().parents[1] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# The checker needs a deep stack; the quick (C1) compiler halves its time on a few dozen pages.
JAVA_OPTIONS = ["-Xss4m", "-XX:TieredStopAtLevel=1"]


@dataclass(frozen=True)
class Problem:
    """One error the checker found: where (line, column) and what."""

    line: int
    column: int
    message: str
    extract: str

    def __str__(self) -> str:
        return f"line {self.line}:{self.column}: {self.message} [{self.extract.strip()[:120]}]"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the Nu HTML Checker cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"the Nu HTML Checker cannot run: {reason}")


def java_or_skip() -> list[str]:
    """The command that runs the checker, or a skip (a failure in CI) that says what to install."""
    java = shutil.which("java")
    if java is None:
        _missing("Java is not installed (apt-get install default-jre-headless; scripts/test does)")
    if not JAR.exists():
        _missing(f"{JAR} is missing (npm ci in the repository installs vnu-jar)")
    return [str(java), *JAVA_OPTIONS, "-jar", str(JAR)]


def validate(files: Sequence[Path]) -> dict[Path, list[Problem]]:
    """Check ``files`` (HTML) in one Java run; every file maps to its errors ([] when valid).
    Warnings are left out (``--errors-only``); a file the checker could not read is an error."""
    command = java_or_skip()
    paths = [f.resolve() for f in files]
    result = subprocess.run(
        [*command, "--format", "json", "--errors-only", "--stdout", *map(str, paths)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    try:
        messages = json.loads(result.stdout)["messages"]
    except (ValueError, KeyError):
        raise AssertionError(
            f"the checker gave no report (exit {result.returncode}): {result.stderr[-2000:]}"
        ) from None
    found: dict[Path, list[Problem]] = {p: [] for p in paths}
    for m in messages:
        if m.get("type") not in ("error", "non-document-error"):
            continue
        path = Path(unquote(urlparse(m.get("url", "")).path)).resolve()
        problem = Problem(m.get("lastLine", 0), m.get("firstColumn", m.get("lastColumn", 0)),
                          m["message"], m.get("extract", ""))  # fmt: skip
        found.setdefault(path, []).append(problem)
    return found


def explain(problems: Sequence[Problem]) -> str:
    """The errors, one a line, for an assertion's message."""
    return "\n".join(str(p) for p in problems)
