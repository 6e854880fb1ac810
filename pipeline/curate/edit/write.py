"""How an edit reaches the disk: ``apply`` makes it to the file only when the file is still the
version (``version``) the editor's page was built from, and writes atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from pipeline.curate.edit.splices import EditRefused
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.infra.files import atomic_write


class FileChanged(PipelineError):
    "The issue file changed on disk since the editor's page was built; nothing was written."


def version(data: bytes | str) -> str:
    """The version of a file's content that a page was built from (and an edit must match)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def apply(path: Path, shown: str, expected: str, change: Callable[[str], str]) -> str:
    """Make ``change`` to the file at ``path`` if it is still at version ``expected``; the new version.

    Raises FileChanged when it is not (or is gone): the editor's page is out of date, and the file
    on disk, which may hold someone's work, is left alone.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileChanged(
            _("{path} was deleted or renamed since the page was loaded; nothing was written").format(
                path=shown
            ),
            _("the page shows where it stands now"),
        ) from None
    if version(raw) != expected:
        raise FileChanged(
            _(
                "{path} changed on disk since the page was loaded (saved in an editor, or in another "
                "window); your change was not written"
            ).format(path=shown),
            _("the page now shows the new version: make your change again there"),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EditRefused(
            _("{path} is not UTF-8 text").format(path=shown), _("save it as UTF-8 in your editor")
        ) from None
    new = change(text)
    if new == text:
        return expected
    if version(path.read_bytes()) != expected:  # saved while we worked: theirs wins
        raise FileChanged(
            _("{path} changed on disk just now; your change was not written").format(path=shown),
            _("the page now shows the new version: make your change again there"),
        )
    atomic_write(path, new)
    return version(new)
