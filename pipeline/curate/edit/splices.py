"""The low-level splices into an issue file: where a section, a list and an entry are, in lines;
cutting an entry out and pasting it into a list; a value written as YAML lines; and the check that
an edit's result reads back as the same change made to the parsed file.

Every splice keeps each line it does not change byte for byte: ruamel.yaml (a round-trip parser)
finds where things are, the text is cut and pasted as lines.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.issues import IssueFileError, _newline, _rt_load, _trim_end

LISTS = ("items", "runners_up")


class EditRefused(PipelineError):
    "An edit that cannot be made without touching the editor's other text, or that makes no sense."


# -- where things are -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """An entry's place: its section, the list ("items" or "runners_up") and its index in it."""

    section: str
    list: str
    index: int


def plain_load(text: str, shown: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise IssueFileError(
            _("{path} cannot be read: {reason}").format(path=shown, reason=e),
            _("run 'newsletter validate {path}' and fix what it reports").format(path=shown),
        ) from None


def find_section(data: Any, sid: str, shown: str) -> tuple[int, Any]:
    for i, sec in enumerate(data.get("sections") or []):
        if isinstance(sec, dict) and sec.get("section") == sid:
            return i, sec
    raise EditRefused(
        _("{path} has no section '{section}'").format(path=shown, section=sid),
        _("reload the page: the file may have changed"),
    )


def entries_of(sec: Any, which: str) -> list[Any]:
    value = sec.get(which)
    return list(value) if isinstance(value, list) else []


def entry_label(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("item") or entry.get("title") or entry.get("url") or "?")
    return "?"


def check_list(which: str) -> None:
    """Refused unless ``which`` names a list of a section ("items" or "runners_up")."""
    if which not in LISTS:
        raise EditRefused(
            _("'{list}' is not a list of a section").format(list=which), _("use 'items' or 'runners_up'")
        )


def check_place(data: Any, place: Place, expect: str | None, shown: str) -> Any:
    """The entry at ``place``; refused when it is not there, or is not ``expect`` (its item id or title)."""
    check_list(place.list)
    _i, sec = find_section(data, place.section, shown)
    entries = entries_of(sec, place.list)
    if not 0 <= place.index < len(entries):
        raise EditRefused(
            _("section '{section}' has no entry {n} in its '{list}'").format(
                section=place.section, n=place.index + 1, list=place.list
            ),
            _("reload the page: the file may have changed"),
        )
    entry = entries[place.index]
    if expect is not None and entry_label(entry) != expect:
        raise EditRefused(
            _("entry {n} of section '{section}' is '{found}', not '{expect}'").format(
                n=place.index + 1, section=place.section, found=entry_label(entry), expect=expect
            ),
            _("reload the page: the file changed"),
        )
    return entry


def anchors_of(data: Any) -> list[int]:
    """Every line (0-based) where a key or list element of the structure starts, sorted."""
    out = {data.lc.key(k)[0] for k in data}
    for i, sec in enumerate(data.get("sections") or []):
        out.add(data["sections"].lc.item(i)[0])
        if isinstance(sec, dict):
            rt: Any = sec  # a CommentedMap: it knows its lines
            out.update(rt.lc.key(k)[0] for k in rt)
    return sorted(out)


def anchor_after(anchors: Sequence[int], line: int, default: int) -> int:
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
class Span:
    start: int  # first line of the entry, its comments included
    end: int  # one past its last line
    dash: int  # the column of its '-'


def entry_spans(lines: list[str], data: Any, sec_index: int, which: str, shown: str) -> list[Span]:
    """Where each entry of a section's list is, in lines; refused for a list written on one line."""
    sec = data["sections"][sec_index]
    found = sec.get(which)
    if not isinstance(found, list) or not found:
        return []
    seq: Any = found  # a CommentedSeq: it knows its lines
    key_line = sec.lc.key(which)[0]
    if seq.fa.flow_style():
        raise EditRefused(
            _("{path}:{line}: the list '{list}' of section '{section}' is written on one line").format(
                path=shown, line=key_line + 1, list=which, section=sec.get("section")
            ),
            _("write it as a list, one '- item: ID' per line (as 'newsletter draft' does), then try again"),
        )
    anchors = anchors_of(data)
    out = []
    dashes = []
    for j in range(len(seq)):
        line, col = seq.lc.item(j)
        dash = _dash_col(lines, line, col)
        if dash is None:
            raise EditRefused(
                _("{path}:{line}: cannot find where this entry starts").format(path=shown, line=line + 1),
                _("write it as '- item: ID' on a line of its own"),
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
            end = _trim_end(lines, line, anchor_after(anchors, line, len(lines)))
        out.append(Span(starts[j], end, dash))
    return out


def _reindent(block: list[str], delta: int, shown: str) -> list[str]:
    if delta >= 0:
        return [(" " * delta + ln) if ln.strip() else ln for ln in block]
    cut = -delta
    if any(ln.strip() and not ln.startswith(" " * cut) for ln in block):
        raise EditRefused(
            _("{path}: an entry cannot be moved to a list indented less than its lines").format(path=shown),
            _("indent the target list as deep as the entry, then try again"),
        )
    return [ln[cut:] if ln.strip() else ln for ln in block]


def ensure_newline(lines: list[str], nl: str) -> None:
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl


# -- cut and paste of entries -------------------------------------------------------------------------
def cut_entry(text: str, place: Place, shown: str) -> tuple[str, list[str], int]:
    """``text`` without the entry at ``place`` (an emptied list becomes ``[]``); its lines and dash column."""
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = find_section(data, place.section, shown)
    spans = entry_spans(lines, data, sec_index, place.list, shown)
    span = spans[place.index]
    block = lines[span.start : span.end]
    ensure_newline(block, nl)
    del lines[span.start : span.end]
    if len(spans) == 1:  # the list is empty now: write it as the draft writes an empty one
        key_line = sec.lc.key(place.list)[0]
        lines[key_line] = re.sub(rf"^(\s*{place.list}:)", r"\1 []", lines[key_line], count=1)
    return "".join(lines), block, span.dash


def paste_entry(
    text: str, section: str, which: str, index: int | None, block: list[str], dash: int, shown: str
) -> str:
    """``text`` with ``block`` (an entry's lines, its '-' at column ``dash``) at ``index`` of a list."""
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = find_section(data, section, shown)
    seq = sec.get(which)
    if which in sec and isinstance(seq, list) and seq:
        spans = entry_spans(lines, data, sec_index, which, shown)
        at = spans[index].start if index is not None and index < len(spans) else spans[-1].end
        block = _reindent(block, spans[0].dash - dash, shown)
        if at == len(lines):
            ensure_newline(lines, nl)
        lines[at:at] = block
        return "".join(lines)
    key_col = sec.lc.key("section")[1]
    block = _reindent(block, key_col + 2 - dash, shown)
    if which in sec:
        if seq not in (None, []):
            raise EditRefused(
                _("{path}: '{list}' of section '{section}' is not a list").format(
                    path=shown, list=which, section=section
                ),
                _("write '{list}:' with one '- item: ID' line per entry").format(list=which),
            )
        key_line = sec.lc.key(which)[0]
        lines[key_line] = re.sub(rf"^(\s*{which}:)\s*\[\s*\]", r"\1", lines[key_line], count=1)
        ensure_newline(lines, nl)
        lines[key_line + 1 : key_line + 1] = block
        return "".join(lines)
    # No such key yet: 'items' goes right below 'section:', 'runners_up' at the end of the section.
    anchors = anchors_of(data)
    if which == "items":
        at = sec.lc.key("section")[0] + 1
    else:
        last = max(sec.lc.key(k)[0] for k in sec)
        nxt = anchor_after([a for a in anchors if a not in {sec.lc.key(k)[0] for k in sec}], last, len(lines))
        at = _trim_end(lines, last, nxt)
    if at >= len(lines):
        ensure_newline(lines, nl)
    lines[at:at] = [" " * key_col + f"{which}:" + nl, *block]
    return "".join(lines)


def verify(before: str, after: str, shown: str, change: Callable[[Any], None], refusal: str) -> str:
    """``after`` read back must be ``before`` with ``change`` made to its parsed values, nothing else.

    Else the edit is refused with ``refusal`` ("could not ... without changing other text")."""
    expected = copy.deepcopy(plain_load(before, shown))
    change(expected)
    try:
        got = yaml.safe_load(after)
    except yaml.YAMLError:
        got = None
    if got != expected:
        raise EditRefused(
            refusal,
            _(
                "write the sections in block style (one key per line, as 'newsletter draft' does), or make "
                "this change in your editor"
            ),
        )
    return after


def data_list(sec: dict[str, Any], which: str) -> list[Any]:
    if not isinstance(sec.get(which), list):
        sec[which] = []
    value: list[Any] = sec[which]
    return value


def plain_section(data: Any, sid: str) -> dict[str, Any]:
    return next(s for s in data["sections"] if isinstance(s, dict) and s.get("section") == sid)


# -- scalar values --------------------------------------------------------------------------------------
def scalar_lines(key: str, value: str, indent: int, nl: str) -> list[str]:
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


def key_comment(span: list[str], key: str, indent: int) -> str:
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


def with_comment(block: list[str], comment: str, nl: str) -> list[str]:
    if not comment:
        return block
    first = block[0][: -len(nl)] if block[0].endswith(nl) else block[0]
    return [first + comment + nl, *block[1:]]
