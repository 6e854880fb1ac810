"""The top-level fields of an issue file the studio sets: subject, preheader, intro and ``send_at``.

``set_field`` sets one (a splice of its lines, the comment on the key's line kept; a new ``send_at``
takes the place of the draft's commented example line), ``set_fields`` those of a form that differ
from the file. ``clean`` is the clean-up and the limits every text the studio writes goes through.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from pipeline.curate.edit.splices import (
    EditRefused,
    anchor_after,
    ensure_newline,
    key_comment,
    plain_load,
    scalar_lines,
    verify,
    with_comment,
)
from pipeline.domain.i18n import _
from pipeline.domain.issues import (
    INTRO_MAX,
    PREHEADER_MAX,
    PROGRAM_MARKER,
    SUBJECT_MAX,
    _newline,
    _rt_load,
    _trim_end,
    send_at_text,
)

FIELDS = {"subject": SUBJECT_MAX, "preheader": PREHEADER_MAX, "intro": INTRO_MAX, "send_at": 40}


def _normal(key: str, value: str | None) -> str | None:
    """A field's text as the file gets it: one line for a subject, a title or a time, trailing spaces
    and blank edges off a text of several lines; None when nothing is left."""
    if value is None:
        return None
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if key in ("subject", "preheader", "title", "send_at"):
        value = " ".join(value.split())
    else:
        value = "\n".join(line.rstrip() for line in value.strip("\n").split("\n")).strip()
        if "\n" in value:
            value += "\n"  # a text of several lines ends with one, as a literal block keeps it
    return value if value.strip() else None


# Characters no text of an issue holds: C0 controls but tab and line breaks (CR, LF), DEL, C1
# controls (NEL among them), lone surrogates, and the byte-order mark. YAML cannot keep some of
# them, and a NUL breaks the email's template; a form that sends them was not typed by an editor.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
# The years a send time may be in: before them a typo (year 1 writes as '1-01-01', which no one
# reads back), beyond them a time the clock's arithmetic cannot reach in every zone.
SEND_AT_YEARS = (2000, 2099)


def clean(key: str, value: str | None, limit: int) -> str | None:
    if value is not None and (bad := CONTROL.search(value)):
        raise EditRefused(
            _("'{key}' holds an invisible control character ({code}); nothing was written").format(
                key=key, code=f"U+{ord(bad.group()):04X}"
            ),
            _("type the text again, or paste it as plain text"),
        )
    value = _normal(key, value)
    if value is None:
        return None
    if len(value) > limit:
        raise EditRefused(
            _("'{key}' is {n} characters; at most {limit} fit").format(key=key, n=len(value), limit=limit),
            _("shorten '{key}'").format(key=key),
        )
    return value


def _send_at(value: str, tz: dt.tzinfo | None) -> str:
    """'2026-12-10T09:00' (a browser's datetime-local) or '2026-12-10 09:00' as an issue writes it."""
    try:
        when = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise EditRefused(
            _("send_at '{value}' is not a date and time").format(value=value),
            _("give a date and time like 2026-12-10 09:00"),
        ) from None
    first, last = SEND_AT_YEARS
    if not first <= when.year <= last:
        raise EditRefused(
            _("send_at '{value}' is not between the years {first} and {last}").format(
                value=value, first=first, last=last
            ),
            _("give a date and time like 2026-12-10 09:00"),
        )
    return send_at_text(when)


def _check_fields(keys: Iterable[str]) -> None:
    """Refused at the first key that is not a field the studio edits."""
    for key in keys:
        if key not in FIELDS:
            raise EditRefused(
                _("'{key}' is not a field the studio edits").format(key=key),
                _("use one of: {keys}").format(keys=", ".join(FIELDS)),
            )


SEND_AT_PLACEHOLDER = re.compile(r"^#\s?send_at:[^#\r\n]*?(?P<comment>\s+#[^\r\n]*)?(?P<nl>\r?\n?)$")


def set_field(text: str, shown: str, key: str, value: str | None, *, tz: dt.tzinfo | None = None) -> str:
    """``text`` with a top-level field (subject, preheader, intro, send_at) set; None or '' empties it.

    The comment on the key's line stays. An empty ``send_at`` is removed; a new one takes the place
    of the draft's commented example line (``# send_at: ...``), as an editor would uncomment it.
    """
    _check_fields([key])
    value = clean(key, value, FIELDS[key])
    if key == "send_at" and value is not None:
        value = _send_at(value, tz)
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    anchors = sorted(data.lc.key(k)[0] for k in data)
    new = scalar_lines(key, value, 0, nl) if value is not None else [f"{key}:" + nl]
    if key in data:
        start = data.lc.key(key)[0]
        end = _trim_end(lines, start, anchor_after(anchors, start, len(lines)))
        comment = key_comment(lines[start:end], key, 0)
        if data[key] in (None, ""):  # the padding lined the comment up after an empty value
            comment = re.sub(r"^\s+", "   ", comment)
        if value is None and key == "send_at":
            new = []
        else:
            new = with_comment(new, comment, nl)
            if end == len(lines) and not lines[-1].endswith(("\n", "\r")):
                new[-1] = new[-1][: -len(nl)]
        lines[start:end] = new
    elif value is not None:
        placeholder = None
        if key == "send_at":
            sections = data.lc.key("sections")[0] if "sections" in data else len(lines)
            placeholder = next((i for i in range(sections) if SEND_AT_PLACEHOLDER.match(lines[i])), None)
        if placeholder is not None:
            m = SEND_AT_PLACEHOLDER.match(lines[placeholder])
            assert m is not None
            lines[placeholder] = with_comment(new, m.group("comment") or "", nl)[0]
        else:
            at = _insert_point(data, lines, key)
            if at >= len(lines):
                ensure_newline(lines, nl)
            lines[at:at] = new
    out = "".join(lines)

    def change(d: Any) -> None:
        if value is None and key == "send_at":
            d.pop(key, None)
        else:
            d[key] = yaml.safe_load("".join(new).replace("\r\n", "\n"))[key] if value is not None else None

    refusal = _("{path}: could not set '{key}' without changing other text").format(path=shown, key=key)
    out = verify(text, out, shown, change, refusal)
    if value is not None and key != "send_at" and (yaml.safe_load(out) or {}).get(key) != value:
        raise EditRefused(
            _("{path}: could not write '{key}' so that it reads back the same").format(path=shown, key=key),
            _("write '{key}' in your editor").format(key=key),
        )
    return out


def _minute(value: object, tz: dt.tzinfo | None) -> str | None:
    """A send time as the studio's time input shows it ('2026-12-10T09:00', in ``tz``); None when
    it is not a date and time."""
    when: dt.datetime | None = value if isinstance(value, dt.datetime) else None
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    if when is None:
        return None
    if when.tzinfo is not None and tz is not None:
        when = when.astimezone(tz)
    return when.strftime("%Y-%m-%dT%H:%M")


def _same(key: str, current: object, value: str | None, tz: dt.tzinfo | None) -> bool:
    """Whether ``value`` (as a form sends it) is what the file has for ``key`` already."""
    new = _normal(key, value)
    old = None if current is None else _normal(key, str(current))
    if new is None or old is None:
        return new is None and old is None
    if key == "send_at":
        shown = _minute(current, tz)
        return shown is not None and shown == _minute(new, tz)
    return new == old


def set_fields(
    text: str, shown: str, values: Mapping[str, str | None], *, tz: dt.tzinfo | None = None
) -> tuple[str, tuple[str, ...]]:
    """``text`` with the top-level fields in ``values`` that differ from the file set (each as
    ``set_field`` sets it, so every other byte stays), and the keys that changed, in ``FIELDS`` order.

    A value that is what the file has already (after the same clean-up, and for ``send_at`` the
    same minute) is left alone, so a form that sends every field writes only the edited ones.
    """
    _check_fields(values)
    values = {k: clean(k, v, FIELDS[k]) for k, v in values.items()}  # refused before compared
    if values.get("send_at") is not None:
        _send_at(str(values["send_at"]), tz)
    data = plain_load(text, shown)
    data = data if isinstance(data, dict) else {}
    changed = [k for k in FIELDS if k in values and not _same(k, data.get(k), values[k], tz)]
    for key in changed:
        text = set_field(text, shown, key, values[key], tz=tz)
    return text, tuple(changed)


def _insert_point(data: Any, lines: list[str], key: str) -> int:
    """Where a missing top-level field goes: after the fields before it, above 'sections'."""
    order = ["id", *FIELDS]
    before = [k for k in order[: order.index(key)] if k in data]
    if before:
        start = data.lc.key(before[-1])[0]
        anchors = sorted(data.lc.key(k)[0] for k in data)
        return _trim_end(lines, start, anchor_after(anchors, start, len(lines)))
    if "sections" in data:
        at = data.lc.key("sections")[0]
        while at > 0 and lines[at - 1].strip().startswith("#"):
            at -= 1
        return at
    marker = next((i for i, ln in enumerate(lines) if ln.startswith(PROGRAM_MARKER)), len(lines))
    return marker
