"""Writing files safely: the whole new content or the old one, never half of each."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from pipeline.domain.errors import WriteFailed
from pipeline.domain.i18n import N_, _

WRITE_FIX = N_(
    "check that the folder exists or can be made, that you may write there and the disk is not full"
)


def atomic_write(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    try:
        _atomic_write(path, data, encoding)
    except OSError as e:
        raise WriteFailed(
            _("cannot write {path}: {error}").format(path=path, error=e.strerror or e),
            _(WRITE_FIX),
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


# -- reading what people and partners put in the instance -------------------------------------------
class NotReadable(Exception):
    "A local file that is not read: not a regular file, outside the instance, or too large."


class TooLarge(NotReadable):
    "A file with more bytes than the limit (counted while reading: the size on disk is not trusted)."


def not_regular(mode: int) -> str:
    """Why a file of this ``mode`` is not read ("is a folder, not a regular file")."""
    if stat.S_ISDIR(mode):
        return _("is a folder, not a regular file")
    if stat.S_ISFIFO(mode):
        return _("is a named pipe (FIFO), not a regular file")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("is a device, not a regular file")
    if stat.S_ISSOCK(mode):
        return _("is a socket, not a regular file")
    return _("is not a regular file")


def check_regular(path: Path) -> None:
    """NotReadable when ``path`` (links followed) is not a regular file; nothing is opened."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotReadable(not_regular(mode))


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes``.

    A device, named pipe or folder raises NotReadable (without reading: /dev/zero never ends, a
    FIFO would wait for a writer); more than ``max_bytes`` raises TooLarge. The size on disk is not
    trusted (/dev/zero and /proc files say 0): at most ``max_bytes + 1`` bytes are read. A missing
    file raises FileNotFoundError, an unreadable one OSError.
    """
    check_regular(path)
    # Non-blocking, in case it became a FIFO since the stat: the open must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotReadable(not_regular(mode))
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = f.read(min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > max_bytes:
        raise TooLarge(_("over the limit of {n:,} bytes").format(n=max_bytes))
    return b"".join(chunks)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def lexically_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` names a place inside ``root`` as written (``..`` applied, links not followed)."""
    return _within(Path(os.path.normpath(path.absolute())), Path(os.path.normpath(root.absolute())))


def leads_outside(path: Path, root: Path) -> Path | None:
    """Where ``path`` really leads, when that is outside ``root`` (a symbolic link out of the
    instance, or ``..``); None when it stays inside."""
    real = path.resolve()
    return None if _within(real, root.resolve()) else real


def outside_reason(real: Path) -> str:
    return _(
        "leads outside the instance (to {path}): only regular files inside the instance are read; "
        "copy the file into the instance instead of linking to it"
    ).format(path=real)
