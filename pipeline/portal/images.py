"""An image a partner uploads: checked by decoding it (Pillow), re-encoded without EXIF (GPS), XMP or
anything else hidden in the file, at most 1,200 px wide, stored under ``media/<partner-id>/`` by a
name the program made."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from collections.abc import Iterable
from pathlib import Path

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.models import Item
from pipeline.infra.files import atomic_write

MAX_BYTES = 10 * 1024 * 1024
MAX_WIDTH = 1200
MAX_PIXELS = 50_000_000  # a decompression bomb is refused before it is decoded in full
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class ImageRefused(PipelineError):
    "The upload is not an image the newsletter can use."


def store(data: bytes, folder: Path) -> str:
    """Check, clean and store an upload; return its new file name (raises ImageRefused)."""
    from PIL import Image, ImageOps

    if len(data) > MAX_BYTES:
        raise ImageRefused(
            _("the image is larger than 10 MB"), _("make it smaller, or send a photo of at most 10 MB")
        )
    if not data:
        raise ImageRefused(_("the image file is empty"), _("choose the file again"))
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if kind not in FORMATS:
                    raise ImageRefused(
                        _("this file is not a JPEG, PNG or WebP image"),
                        _("save the photo as JPEG or PNG and send it again"),
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)  # turned as the camera meant, then EXIF goes
    except ImageRefused:
        raise
    except Exception:  # any decoder error: not an image, truncated, a bomb
        raise ImageRefused(
            _("this file is not an image that can be read, or it is damaged"),
            _("save the photo as JPEG or PNG and send it again"),
        ) from None
    if image.width > MAX_WIDTH:
        height = max(1, round(image.height * MAX_WIDTH / image.width))
        image = image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    ext = FORMATS[kind]
    if ext == "jpg":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif ext == "png":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=85)
    name = f"{secrets.token_hex(10)}.{ext}"
    atomic_write(folder / name, out.getvalue())
    return name


MEDIA_PATH = re.compile(r"^media/[a-z0-9][a-z0-9-]*/[0-9a-f]{20}\.(jpg|png|webp)$")


def archive_files(config: Config, items: Iterable[Item]) -> dict[str, bytes]:
    """The portal's images the archive publishes: those of its items (with consent), each at the
    path under the archive its URL names (``media/<partner-id>/<name>``), read from the instance."""
    base = config.settings.archive_url
    out: dict[str, bytes] = {}
    for item in items:
        image = item.image
        if image is None or not image.consent or not image.url or not image.url.startswith(base):
            continue
        rel = image.url[len(base) :]
        path = config.root / rel
        if MEDIA_PATH.match(rel) and path.is_file() and not path.is_symlink():
            out[rel] = path.read_bytes()
    return out
