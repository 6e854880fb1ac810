"""Errors the library raises. Only the CLI prints them and chooses the exit status.

Every error carries what went wrong and, where there is one, the fix, so that the CLI can
print ``Error: <message>`` and nothing else (no traceback).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.domain.i18n import _, ngettext


class PipelineWarning(UserWarning):
    "A problem the pipeline can work around; the test suite turns it into an error."


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one input file, printed as ``PATH:LINE: message``."""

    path: str
    line: int | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.severity == "warning":
            return _("{where}: warning: {message}").format(where=where, message=self.message)
        return f"{where}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def display_path(path: str | Path, root: Path | None = None) -> str:
    """A path as a user would type it: relative to the instance root when inside it (a symbolic
    link by its own name, not by where it leads)."""
    p = Path(path)
    if root is not None:
        for mine, base in (
            (Path(os.path.abspath(p)), Path(os.path.abspath(root))),
            (p.resolve(), root.resolve()),
        ):
            try:
                return str(mine.relative_to(base))
            except ValueError:
                pass
    return str(p)


class PipelineError(Exception):
    "Something the user can fix; the message says what and how."

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputInvalid(PipelineError):
    "One or more input files have problems; each names its file and line."

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.is_error]
        super().__init__(
            ngettext("{n} problem found", "{n} problems found", len(errors)).format(n=len(errors))
        )

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class NotFound(PipelineError):
    "A named issue, item, source or file does not exist."


class WriteFailed(PipelineError):
    "A file or folder could not be written (no such folder, no permission, disk full)."


class StateError(PipelineError):
    "The state database cannot be opened or is from a newer version."
