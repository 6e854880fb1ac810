"""Reading a YAML file that people write: only a regular file, no more than the limit, and never
out of the instance through a link; the text is parsed by ``pipeline.domain.yamldoc``."""

from __future__ import annotations

from pathlib import Path

from pipeline.domain.errors import InputInvalid, Problem
from pipeline.domain.i18n import _
from pipeline.domain.yamldoc import MAX_BYTES, YamlDoc, parse
from pipeline.infra.files import (
    NotReadable,
    TooLarge,
    leads_outside,
    lexically_inside,
    outside_reason,
    read_regular,
)


def load(
    path: Path, display: str | None = None, *, max_bytes: int = MAX_BYTES, instance: Path | None = None
) -> YamlDoc:
    """Read and parse a YAML file; the error names ``display`` (default: the path).

    Only a regular file is read, and no more than ``max_bytes`` of it. With ``instance``, a file in
    the instance must really be there: a symbolic link out of it is refused (a file named outside
    the instance, like a partner's draft checked with validate, is read).
    """
    shown = display or str(path)
    try:
        if instance is not None and lexically_inside(path, instance):
            real = leads_outside(path, instance)
            if real is not None:
                raise InputInvalid([Problem(shown, None, outside_reason(real))])
        raw = read_regular(path, max_bytes)
    except FileNotFoundError:
        raise InputInvalid([Problem(shown, None, _("file not found"))]) from None
    except TooLarge:
        raise InputInvalid([Problem(shown, None, _too_large(path, max_bytes))]) from None
    except NotReadable as e:
        raise InputInvalid([Problem(shown, None, str(e))]) from None
    except OSError as e:
        raise InputInvalid(
            [Problem(shown, None, _("cannot be read: {reason}").format(reason=e.strerror))]
        ) from None
    return parse(raw, shown, max_bytes=max_bytes)


def _too_large(path: Path, max_bytes: int) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if size > max_bytes:  # the size on disk, when it says so (a file that grew while read does not)
        return _("file is {size} bytes, over the limit of {limit}").format(
            size=f"{size:,}", limit=f"{max_bytes:,}"
        )
    return _("file is over the limit of {limit} bytes").format(limit=f"{max_bytes:,}")
