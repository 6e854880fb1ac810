"""Curation edits of an issue file: what an editor does by hand, done by the program, byte for byte.

Each edit is a function from the file's text to the new text: add a candidate to a section,
remove an entry, move one (reorder, to another section, promote a runner-up, back to the
runners-up), set the subject, preheader, intro or ``send_at`` (one, or those of a form that
differ from the file), and give an entry its own title or summary. The studio writes nothing
else, and nothing in another way.

Like the program's other writes (``pipeline.domain.issues``), every edit is a splice: ruamel.yaml
(a round-trip parser) finds where things are, and only the lines of what changes are cut,
pasted or replaced. Comments, blank lines and every untouched line stay byte for byte, so
``git diff`` shows exactly the change. An entry moves with the comment lines above it (they
describe it, as the draft writes them). Each result is read back and compared, value by value,
with the same change made to the parsed file; an edit that cannot be made that way (a section
written on one line, say) is refused with the fix, and the file is left as it was.

``apply`` is the one way such an edit reaches the disk: it refuses when the file is not the
version the editor's page was built from (someone saved it in the meantime), then writes
atomically.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.issues import (
    INTRO_MAX,
    PREHEADER_MAX,
    PROGRAM_MARKER,
    SUBJECT_MAX,
    IssueFileError,
    _is_filler,
    _newline,
    _rt_load,
    _trim_end,
)
from pipeline.infra.files import atomic_write

LISTS = ("items", "runners_up")
FIELDS = {"subject": SUBJECT_MAX, "preheader": PREHEADER_MAX, "intro": INTRO_MAX, "send_at": 40}
ENTRY_TEXT = {"title": 200, "summary": 1500}  # as the issue check allows


class FileChanged(PipelineError):
    "The issue file changed on disk since the editor's page was built; nothing was written."


class EditRefused(PipelineError):
    "An edit that cannot be made without touching the editor's other text, or that makes no sense."


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


# -- where things are -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """An entry's place: its section, the list ("items" or "runners_up") and its index in it."""

    section: str
    list: str
    index: int


def _plain_load(text: str, shown: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise IssueFileError(f"{shown} cannot be read: {e}", f"run 'newsletter validate {shown}'") from None


def _section(data: Any, sid: str, shown: str) -> tuple[int, Any]:
    for i, sec in enumerate(data.get("sections") or []):
        if isinstance(sec, dict) and sec.get("section") == sid:
            return i, sec
    raise EditRefused(
        _("{path} has no section '{section}'").format(path=shown, section=sid),
        _("reload the page: the file may have changed"),
    )


def _entries(sec: Any, which: str) -> list[Any]:
    value = sec.get(which)
    return list(value) if isinstance(value, list) else []


def _label(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("item") or entry.get("title") or entry.get("url") or "?")
    return "?"


def _check_place(data: Any, place: Place, expect: str | None, shown: str) -> Any:
    if place.list not in LISTS:
        raise EditRefused(f"'{place.list}' is not a list of a section", "use 'items' or 'runners_up'")
    _i, sec = _section(data, place.section, shown)
    entries = _entries(sec, place.list)
    if not 0 <= place.index < len(entries):
        raise EditRefused(
            _("section '{section}' has no entry {n} in its '{list}'").format(
                section=place.section, n=place.index + 1, list=place.list
            ),
            _("reload the page: the file may have changed"),
        )
    entry = entries[place.index]
    if expect is not None and _label(entry) != expect:
        raise EditRefused(
            _("entry {n} of section '{section}' is '{found}', not '{expect}'").format(
                n=place.index + 1, section=place.section, found=_label(entry), expect=expect
            ),
            _("reload the page: the file changed"),
        )
    return entry


def _anchors(data: Any) -> list[int]:
    """Every line (0-based) where a key or list element of the structure starts, sorted."""
    out = {data.lc.key(k)[0] for k in data}
    for i, sec in enumerate(data.get("sections") or []):
        out.add(data["sections"].lc.item(i)[0])
        if isinstance(sec, dict):
            rt: Any = sec  # a CommentedMap: it knows its lines
            out.update(rt.lc.key(k)[0] for k in rt)
    return sorted(out)


def _after(anchors: Sequence[int], line: int, default: int) -> int:
    return next((a for a in anchors if a > line), default)


def _dash_col(lines: list[str], line: int, col: int) -> int | None:
    """The column of the '-' that starts a list element whose value begins at (line, col)."""
    before = lines[line][:col].rstrip()
    return len(before) - 1 if before.endswith("-") else None


def _own_start(lines: list[str], dash_line: int, floor: int) -> int:
    """The first of the comment lines right above an entry (they describe it and move with it)."""
    start = dash_line
    while start - 1 > floor and lines[start - 1].strip().startswith("#"):
        start -= 1
    return start


@dataclass(frozen=True)
class _Span:
    start: int  # first line of the entry, its comments included
    end: int  # one past its last line
    dash: int  # the column of its '-'


def _spans(lines: list[str], data: Any, sec_index: int, which: str, shown: str) -> list[_Span]:
    """Where each entry of a section's list is, in lines; refused for a list written on one line."""
    sec = data["sections"][sec_index]
    found = sec.get(which)
    if not isinstance(found, list) or not found:
        return []
    seq: Any = found  # a CommentedSeq: it knows its lines
    key_line = sec.lc.key(which)[0]
    if seq.fa.flow_style():
        raise EditRefused(
            f"{shown}:{key_line + 1}: the {which} of section '{sec.get('section')}' are written on one line",
            "write them as a list, one '- item: ID' per line (as 'newsletter draft' does), then try again",
        )
    anchors = _anchors(data)
    out = []
    dashes = []
    for j in range(len(seq)):
        line, col = seq.lc.item(j)
        dash = _dash_col(lines, line, col)
        if dash is None:
            raise EditRefused(
                f"{shown}:{line + 1}: cannot find where this entry starts",
                "write it as '- item: ID' on a line of its own",
            )
        dashes.append((line, dash))
    starts = []
    for j, (line, _dash) in enumerate(dashes):
        floor = dashes[j - 1][0] if j else key_line
        starts.append(_own_start(lines, line, floor))
    for j, (line, dash) in enumerate(dashes):
        if j + 1 < len(dashes):
            end = starts[j + 1]
        else:
            end = _trim_end(lines, line, _after(anchors, line, len(lines)))
        out.append(_Span(starts[j], end, dash))
    return out


def _reindent(block: list[str], delta: int, shown: str) -> list[str]:
    if delta >= 0:
        return [(" " * delta + ln) if ln.strip() else ln for ln in block]
    cut = -delta
    if any(ln.strip() and not ln.startswith(" " * cut) for ln in block):
        raise EditRefused(
            f"{shown}: an entry cannot be moved to a list indented less than its lines",
            "indent the target list as deep as the entry, then try again",
        )
    return [ln[cut:] if ln.strip() else ln for ln in block]


def _ensure_newline(lines: list[str], nl: str) -> None:
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl


# -- cut and paste of entries -------------------------------------------------------------------------
def _cut(text: str, place: Place, shown: str) -> tuple[str, list[str], int]:
    """``text`` without the entry at ``place`` (an emptied list becomes ``[]``); its lines and dash column."""
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = _section(data, place.section, shown)
    spans = _spans(lines, data, sec_index, place.list, shown)
    span = spans[place.index]
    block = lines[span.start : span.end]
    _ensure_newline(block, nl)
    del lines[span.start : span.end]
    if len(spans) == 1:  # the list is empty now: write it as the draft writes an empty one
        key_line = sec.lc.key(place.list)[0]
        lines[key_line] = re.sub(rf"^(\s*{place.list}:)", r"\1 []", lines[key_line], count=1)
    return "".join(lines), block, span.dash


def _paste(
    text: str, section: str, which: str, index: int | None, block: list[str], dash: int, shown: str
) -> str:
    """``text`` with ``block`` (an entry's lines, its '-' at column ``dash``) at ``index`` of a list."""
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = _section(data, section, shown)
    seq = sec.get(which)
    if which in sec and isinstance(seq, list) and seq:
        spans = _spans(lines, data, sec_index, which, shown)
        at = spans[index].start if index is not None and index < len(spans) else spans[-1].end
        block = _reindent(block, spans[0].dash - dash, shown)
        if at == len(lines):
            _ensure_newline(lines, nl)
        lines[at:at] = block
        return "".join(lines)
    key_col = sec.lc.key("section")[1]
    block = _reindent(block, key_col + 2 - dash, shown)
    if which in sec:
        if seq not in (None, []):
            raise EditRefused(
                f"{shown}: the {which} of section '{section}' are not a list",
                f"write '{which}:' with one '- item: ID' line per entry",
            )
        key_line = sec.lc.key(which)[0]
        lines[key_line] = re.sub(rf"^(\s*{which}:)\s*\[\s*\]", r"\1", lines[key_line], count=1)
        _ensure_newline(lines, nl)
        lines[key_line + 1 : key_line + 1] = block
        return "".join(lines)
    # No such key yet: 'items' goes right below 'section:', 'runners_up' at the end of the section.
    anchors = _anchors(data)
    if which == "items":
        at = sec.lc.key("section")[0] + 1
    else:
        last = max(sec.lc.key(k)[0] for k in sec)
        nxt = _after([a for a in anchors if a not in {sec.lc.key(k)[0] for k in sec}], last, len(lines))
        at = _trim_end(lines, last, nxt)
    if at >= len(lines):
        _ensure_newline(lines, nl)
    lines[at:at] = [" " * key_col + f"{which}:" + nl, *block]
    return "".join(lines)


def _verify(before: str, after: str, shown: str, change: Callable[[Any], None], what: str) -> str:
    """``after`` read back must be ``before`` with ``change`` made to its parsed values, nothing else."""
    expected = copy.deepcopy(_plain_load(before, shown))
    change(expected)
    try:
        got = yaml.safe_load(after)
    except yaml.YAMLError:
        got = None
    if got != expected:
        raise EditRefused(
            f"{shown}: could not {what} without changing other text",
            "write the sections in block style (one key per line, as 'newsletter draft' does), or make "
            "this change in your editor",
        )
    return after


def _data_list(sec: dict[str, Any], which: str) -> list[Any]:
    if not isinstance(sec.get(which), list):
        sec[which] = []
    value: list[Any] = sec[which]
    return value


def _plain_section(data: Any, sid: str) -> dict[str, Any]:
    return next(s for s in data["sections"] if isinstance(s, dict) and s.get("section") == sid)


# -- the edits ---------------------------------------------------------------------------------------
def _all_items(data: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for sec in data.get("sections") or []:
        if isinstance(sec, dict):
            for which in LISTS:
                for e in _entries(sec, which):
                    if isinstance(e, dict) and e.get("item"):
                        found.setdefault(str(e["item"]), f"{sec.get('section')} ({which.replace('_', '-')})")
    return found


def add_entry(
    text: str,
    shown: str,
    section: str,
    entry_lines: Sequence[str],
    *,
    list: str = "items",
    index: int | None = None,
) -> str:
    """``text`` with a new entry (``entry_lines``: comments, then ``- item: ID``) in a section's list.

    At ``index`` (None: at the end). Refused when the item is in the file already.
    """
    if list not in LISTS:
        raise EditRefused(f"'{list}' is not a list of a section", "use 'items' or 'runners_up'")
    data = _plain_load(text, shown)
    _section(data, section, shown)
    item = re.sub(r"^- item:\s*", "", entry_lines[-1]).strip().strip('"')
    where = _all_items(data).get(item)
    if where:
        raise EditRefused(
            _("item '{item}' is in the issue already, in section {section}").format(item=item, section=where),
            _("move it from there instead"),
        )
    nl = _newline(text)
    out = _paste(text, section, list, index, [line + nl for line in entry_lines], 0, shown)

    def change(d: Any) -> None:
        entries = _data_list(_plain_section(d, section), list)
        entries.insert(len(entries) if index is None else index, {"item": item})

    return _verify(text, out, shown, change, f"add item '{item}' to section '{section}'")


def remove_entry(text: str, shown: str, place: Place, *, expect: str | None = None) -> str:
    """``text`` without the entry at ``place`` and the comment lines above it."""
    _check_place(_plain_load(text, shown), place, expect, shown)
    out, _block, _dash = _cut(text, place, shown)

    def change(d: Any) -> None:
        del _data_list(_plain_section(d, place.section), place.list)[place.index]

    return _verify(text, out, shown, change, f"remove entry {place.index + 1} of section '{place.section}'")


def move_entry(
    text: str,
    shown: str,
    place: Place,
    to_section: str,
    to_list: str = "items",
    to_index: int | None = None,
    *,
    expect: str | None = None,
) -> str:
    """``text`` with the entry at ``place`` moved (with its comments) to ``to_index`` of another list.

    The same list reorders; ``runners_up`` to ``items`` promotes a runner-up. ``to_index`` counts
    in the target list as it is after the entry left (None: at the end).
    """
    if to_list not in LISTS:
        raise EditRefused(f"'{to_list}' is not a list of a section", "use 'items' or 'runners_up'")
    data = _plain_load(text, shown)
    _check_place(data, place, expect, shown)
    _section(data, to_section, shown)
    if (to_section, to_list) == (place.section, place.list) and to_index == place.index:
        return text
    cut, block, dash = _cut(text, place, shown)
    out = _paste(cut, to_section, to_list, to_index, block, dash, shown)

    def change(d: Any) -> None:
        entry = _data_list(_plain_section(d, place.section), place.list).pop(place.index)
        target = _data_list(_plain_section(d, to_section), to_list)
        target.insert(len(target) if to_index is None else to_index, entry)

    return _verify(text, out, shown, change, f"move entry {place.index + 1} of section '{place.section}'")


# -- scalar values --------------------------------------------------------------------------------------
def _scalar(key: str, value: str, indent: int, nl: str) -> list[str]:
    """``key: value`` as YAML lines at ``indent``: plain when it reads back the same, a literal block
    for several lines, else double-quoted."""
    pad = " " * indent
    if "\n" not in value:
        line = f"{key}: {value}"
        try:
            plain_ok = value == value.strip() and yaml.safe_load(line) == {key: value}
        except yaml.YAMLError:
            plain_ok = False
        if plain_ok:
            return [pad + line + nl]
        return [pad + f"{key}: {json.dumps(value, ensure_ascii=False)}" + nl]
    body = value.split("\n")
    chomp = "-"
    if value.endswith("\n"):
        body = body[:-1]
        chomp = "" if not value.endswith("\n\n") else "+"
        if chomp == "+":
            while body and body[-1] == "":
                body.pop()
            body += [""] * (len(value) - len(value.rstrip("\n")) - 1)
    lead = "2" if body and body[0].startswith(" ") else ""
    block = [pad + f"{key}: |{lead}{chomp}" + nl]
    block += [(pad + "  " + ln if ln else "") + nl for ln in body]
    try:
        ok = yaml.safe_load("".join(ln[indent:] for ln in block)) == {key: value}
    except yaml.YAMLError:
        ok = False
    if ok:
        return block
    return [pad + f"{key}: {json.dumps(value, ensure_ascii=False)}" + nl]


def _key_comment(span: list[str], key: str, indent: int) -> str:
    """The comment at the end of a key's first line ('   # required: ...'), or ''."""
    first = span[0].rstrip("\r\n")
    rest = "".join(span[1:])
    try:
        whole = yaml.safe_load("".join(ln[indent:] for ln in span))
    except yaml.YAMLError:
        return ""
    for m in re.finditer(r"\s+#", first):
        head = first[: m.start()]
        try:
            if (
                yaml.safe_load("\n".join([head[indent:], *(ln[indent:] for ln in rest.splitlines())]) + "\n")
                == whole
            ):
                return first[m.start() :]
        except yaml.YAMLError:
            continue
    return ""


def _with_comment(block: list[str], comment: str, nl: str) -> list[str]:
    if not comment:
        return block
    first = block[0][: -len(nl)] if block[0].endswith(nl) else block[0]
    return [first + comment + nl, *block[1:]]


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


def _clean(key: str, value: str | None, limit: int) -> str | None:
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
    shown = when.strftime("%Y-%m-%d %H:%M")
    if when.tzinfo is not None:
        offset = when.strftime("%z")
        shown += f"{offset[:3]}:{offset[3:]}"
    return shown


SEND_AT_PLACEHOLDER = re.compile(r"^#\s?send_at:[^#\r\n]*?(?P<comment>\s+#[^\r\n]*)?(?P<nl>\r?\n?)$")


def set_field(text: str, shown: str, key: str, value: str | None, *, tz: dt.tzinfo | None = None) -> str:
    """``text`` with a top-level field (subject, preheader, intro, send_at) set; None or '' empties it.

    The comment on the key's line stays. An empty ``send_at`` is removed; a new one takes the place
    of the draft's commented example line (``# send_at: ...``), as an editor would uncomment it.
    """
    if key not in FIELDS:
        raise EditRefused(f"'{key}' is not a field the studio edits", f"use one of: {', '.join(FIELDS)}")
    value = _clean(key, value, FIELDS[key])
    if key == "send_at" and value is not None:
        value = _send_at(value, tz)
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    anchors = sorted(data.lc.key(k)[0] for k in data)
    new = _scalar(key, value, 0, nl) if value is not None else [f"{key}:" + nl]
    if key in data:
        start = data.lc.key(key)[0]
        end = _trim_end(lines, start, _after(anchors, start, len(lines)))
        comment = _key_comment(lines[start:end], key, 0)
        if data[key] in (None, ""):  # the padding lined the comment up after an empty value
            comment = re.sub(r"^\s+", "   ", comment)
        if value is None and key == "send_at":
            new = []
        else:
            new = _with_comment(new, comment, nl)
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
            lines[placeholder] = _with_comment(new, m.group("comment") or "", nl)[0]
        else:
            at = _insert_point(data, lines, key)
            if at >= len(lines):
                _ensure_newline(lines, nl)
            lines[at:at] = new
    out = "".join(lines)

    def change(d: Any) -> None:
        if value is None and key == "send_at":
            d.pop(key, None)
        else:
            d[key] = yaml.safe_load("".join(new).replace("\r\n", "\n"))[key] if value is not None else None

    out = _verify(text, out, shown, change, f"set '{key}'")
    if value is not None and key != "send_at" and (yaml.safe_load(out) or {}).get(key) != value:
        raise EditRefused(f"{shown}: could not write '{key}' so that it reads back the same", None)
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
    unknown = [k for k in values if k not in FIELDS]
    if unknown:
        raise EditRefused(
            f"'{unknown[0]}' is not a field the studio edits", f"use one of: {', '.join(FIELDS)}"
        )
    values = {k: _clean(k, v, FIELDS[k]) for k, v in values.items()}  # refused before compared
    if values.get("send_at") is not None:
        _send_at(str(values["send_at"]), tz)
    data = _plain_load(text, shown)
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
        return _trim_end(lines, start, _after(anchors, start, len(lines)))
    if "sections" in data:
        at = data.lc.key("sections")[0]
        while at > 0 and lines[at - 1].strip().startswith("#"):
            at -= 1
        return at
    marker = next((i for i, ln in enumerate(lines) if ln.startswith(PROGRAM_MARKER)), len(lines))
    return marker


def set_entry_text(
    text: str, shown: str, place: Place, key: str, value: str | None, *, expect: str | None = None
) -> str:
    """``text`` with an entry's own ``title`` or ``summary`` set; None or '' removes it (the item's own
    text is shown again). An announcement (no item) keeps its title and summary: they are all it has."""
    if key not in ENTRY_TEXT:
        raise EditRefused(f"'{key}' is not an entry's text", "use 'title' or 'summary'")
    value = _clean(key, value, ENTRY_TEXT[key])
    plain = _plain_load(text, shown)
    entry = _check_place(plain, place, expect, shown)
    if not isinstance(entry, dict):
        raise EditRefused(
            f"entry {place.index + 1} of section '{place.section}' is not a mapping",
            "write it as '- item: ID'",
        )
    if value is None and not entry.get("item"):
        raise EditRefused(
            f"the announcement '{_label(entry)}' has no item to fall back on; it needs its {key}",
            f"write a new {key} instead of emptying it",
        )
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = _section(data, place.section, shown)
    span = _spans(lines, data, sec_index, place.list, shown)[place.index]
    rt_entry = sec[place.list][place.index]
    if rt_entry.fa.flow_style():
        raise EditRefused(
            f"{shown}:{sec[place.list].lc.item(place.index)[0] + 1}: this entry is written on one line",
            "write it in block style (one key per line: '- title: ...', then 'summary: ...' below), "
            "then try again",
        )
    key_lines = sorted(rt_entry.lc.key(k)[0] for k in rt_entry)
    col = rt_entry.lc.key(next(iter(rt_entry)))[1]
    new = _scalar(key, value, col, nl) if value is not None else []
    if key in rt_entry:
        start = rt_entry.lc.key(key)[0]
        end = _trim_end(lines, start, _after(key_lines, start, span.end))
        end = min(end, span.end)
        comment = _key_comment(lines[start:end], key, col)
        new = _with_comment(new, comment, nl) if new else new
        lines[start:end] = new
    elif new:
        if key == "title" and "item" in rt_entry:
            first = rt_entry.lc.key("item")[0]
            at = _trim_end(lines, first, _after(key_lines, first, span.end))
        else:
            at = span.end
            while at > span.start + 1 and _is_filler(lines[at - 1]):
                at -= 1
        if at >= len(lines):
            _ensure_newline(lines, nl)
        lines[at:at] = new
    out = "".join(lines)

    def change(d: Any) -> None:
        e = _data_list(_plain_section(d, place.section), place.list)[place.index]
        if value is None:
            e.pop(key, None)
        else:
            e[key] = value

    return _verify(text, out, shown, change, f"set the {key} of entry {place.index + 1} in '{place.section}'")


__all__ = [
    "EditRefused",
    "FileChanged",
    "Place",
    "add_entry",
    "apply",
    "move_entry",
    "remove_entry",
    "set_entry_text",
    "set_field",
    "version",
]
