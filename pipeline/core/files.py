"""Writing files safely: the whole new content or the old one, never half of each."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipeline.core.errors import WriteFailed

WRITE_FIX = "check that the folder exists or can be made, that you may write there and the disk is not full"


def atomic_write(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    try:
        _atomic_write(path, data, encoding)
    except OSError as e:
        raise WriteFailed(
            f"cannot write {path}: {e.strerror or e}",
            WRITE_FIX,
        ) from None


def _atomic_write(path: Path, data: str | bytes, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)


# A value may start like a spreadsheet formula ("=HYPERLINK(...)"); the leading quote makes Excel and
# LibreOffice show it as text when someone opens a CSV the pipeline wrote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str | None) -> str:
    """``value`` as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    value = value or ""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
