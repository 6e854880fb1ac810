"""The portal's request bodies: URL-encoded forms and multipart forms (with one image), read by the
standard library, within limits. A body the portal's own pages would not send gives an empty form,
and the handler then refuses what is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

MAX_FIELDS = 200
MAX_TEXT = 64 * 1024  # one text field; the whole story is far less


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (filename, data)

    def get(self, key: str) -> str:
        values = self.fields.get(key) or [""]
        return values[-1]


def read(content_type: str, body: bytes) -> Form:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _urlencoded(body)
    if kind == "multipart/form-data":
        return _multipart(content_type, body)
    return Form()


def _urlencoded(body: bytes) -> Form:
    form = Form()
    try:
        pairs = parse_qsl(body.decode("utf-8", "strict"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return form
    for key, value in pairs:
        form.fields.setdefault(key, []).append(value[:MAX_TEXT])
    return form


def _multipart(content_type: str, body: bytes) -> Form:
    form = Form()
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        message = BytesParser(policy=HTTP).parsebytes(head + body)
    except Exception:  # a body no browser sends
        return form
    if not message.is_multipart():
        return form
    for n, part in enumerate(message.iter_parts()):
        if n >= MAX_FIELDS:
            return Form()
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        filename = part.get_filename()
        if filename is not None:
            if data:
                form.files[name] = (filename, data)
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return Form()
        form.fields.setdefault(name, []).append(text[:MAX_TEXT])
    return form
