"""The entries of an issue's sections the studio changes: add a candidate to a section, remove an
entry, move one (reorder, to another section, promote a runner-up, back to the runners-up), and give
an entry its own title or summary. An entry moves with the comment lines above it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pipeline.curate.edit.fields import clean
from pipeline.curate.edit.splices import (
    LISTS,
    EditRefused,
    Place,
    anchor_after,
    check_list,
    check_place,
    cut_entry,
    data_list,
    ensure_newline,
    entries_of,
    entry_label,
    entry_spans,
    find_section,
    key_comment,
    paste_entry,
    plain_load,
    plain_section,
    scalar_lines,
    verify,
    with_comment,
)
from pipeline.domain.i18n import _
from pipeline.domain.issues import _is_filler, _newline, _rt_load, _trim_end

ENTRY_TEXT = {"title": 200, "summary": 1500}  # as the issue check allows


# -- the edits ---------------------------------------------------------------------------------------
def _all_items(data: Any) -> dict[str, tuple[str, str]]:
    """Every item in the file: its section and list (the first place, should it be in two)."""
    found: dict[str, tuple[str, str]] = {}
    for sec in data.get("sections") or []:
        if isinstance(sec, dict):
            for which in LISTS:
                for e in entries_of(sec, which):
                    if isinstance(e, dict) and e.get("item"):
                        found.setdefault(str(e["item"]), (str(sec.get("section")), which))
    return found


def _refuse_twice(item: str, where: tuple[str, str]) -> None:
    section, which = where
    if which == "items":
        message = _("item '{item}' is in the issue already, in section {section}")
    else:
        message = _("item '{item}' is in the issue already, among the runners-up of section {section}")
    raise EditRefused(message.format(item=item, section=section), _("move it from there instead"))


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
    check_list(list)
    data = plain_load(text, shown)
    find_section(data, section, shown)
    item = re.sub(r"^- item:\s*", "", entry_lines[-1]).strip().strip('"')
    where = _all_items(data).get(item)
    if where:
        _refuse_twice(item, where)
    nl = _newline(text)
    out = paste_entry(text, section, list, index, [line + nl for line in entry_lines], 0, shown)

    def change(d: Any) -> None:
        entries = data_list(plain_section(d, section), list)
        entries.insert(len(entries) if index is None else index, {"item": item})

    refusal = _("{path}: could not add item '{item}' to section '{section}' without changing other text")
    return verify(text, out, shown, change, refusal.format(path=shown, item=item, section=section))


def remove_entry(text: str, shown: str, place: Place, *, expect: str | None = None) -> str:
    """``text`` without the entry at ``place`` and the comment lines above it."""
    check_place(plain_load(text, shown), place, expect, shown)
    out, _block, _dash = cut_entry(text, place, shown)

    def change(d: Any) -> None:
        del data_list(plain_section(d, place.section), place.list)[place.index]

    refusal = _("{path}: could not remove entry {n} of section '{section}' without changing other text")
    return verify(
        text, out, shown, change, refusal.format(path=shown, n=place.index + 1, section=place.section)
    )


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
    check_list(to_list)
    data = plain_load(text, shown)
    check_place(data, place, expect, shown)
    find_section(data, to_section, shown)
    if (to_section, to_list) == (place.section, place.list) and to_index == place.index:
        return text
    cut, block, dash = cut_entry(text, place, shown)
    out = paste_entry(cut, to_section, to_list, to_index, block, dash, shown)

    def change(d: Any) -> None:
        entry = data_list(plain_section(d, place.section), place.list).pop(place.index)
        target = data_list(plain_section(d, to_section), to_list)
        target.insert(len(target) if to_index is None else to_index, entry)

    refusal = _("{path}: could not move entry {n} of section '{section}' without changing other text")
    return verify(
        text, out, shown, change, refusal.format(path=shown, n=place.index + 1, section=place.section)
    )


def _check_entry_text(
    plain: Any, place: Place, key: str, value: str | None, expect: str | None, shown: str
) -> None:
    """Refused when the entry at ``place`` is not one whose ``key`` can be set to ``value``."""
    entry = check_place(plain, place, expect, shown)
    if not isinstance(entry, dict):
        raise EditRefused(
            _("entry {n} of section '{section}' is not a mapping").format(
                n=place.index + 1, section=place.section
            ),
            _("write it as '- item: ID'"),
        )
    if value is None and not entry.get("item"):
        raise EditRefused(
            _("the announcement '{title}' has no item to fall back on; it needs its '{key}'").format(
                title=entry_label(entry), key=key
            ),
            _("write a new '{key}' instead of emptying it").format(key=key),
        )


def set_entry_text(
    text: str, shown: str, place: Place, key: str, value: str | None, *, expect: str | None = None
) -> str:
    """``text`` with an entry's own ``title`` or ``summary`` set; None or '' removes it (the item's own
    text is shown again). An announcement (no item) keeps its title and summary: they are all it has."""
    if key not in ENTRY_TEXT:
        raise EditRefused(_("'{key}' is not an entry's text").format(key=key), _("use 'title' or 'summary'"))
    value = clean(key, value, ENTRY_TEXT[key])
    _check_entry_text(plain_load(text, shown), place, key, value, expect, shown)
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    sec_index, sec = find_section(data, place.section, shown)
    span = entry_spans(lines, data, sec_index, place.list, shown)[place.index]
    rt_entry = sec[place.list][place.index]
    if rt_entry.fa.flow_style():
        raise EditRefused(
            _("{path}:{line}: this entry is written on one line").format(
                path=shown, line=sec[place.list].lc.item(place.index)[0] + 1
            ),
            _(
                "write it in block style (one key per line: '- title: ...', then 'summary: ...' below), "
                "then try again"
            ),
        )
    key_lines = sorted(rt_entry.lc.key(k)[0] for k in rt_entry)
    col = rt_entry.lc.key(next(iter(rt_entry)))[1]
    new = scalar_lines(key, value, col, nl) if value is not None else []
    if key in rt_entry:
        start = rt_entry.lc.key(key)[0]
        end = _trim_end(lines, start, anchor_after(key_lines, start, span.end))
        end = min(end, span.end)
        comment = key_comment(lines[start:end], key, col)
        new = with_comment(new, comment, nl) if new else new
        lines[start:end] = new
    elif new:
        if key == "title" and "item" in rt_entry:
            first = rt_entry.lc.key("item")[0]
            at = _trim_end(lines, first, anchor_after(key_lines, first, span.end))
        else:
            at = span.end
            while at > span.start + 1 and _is_filler(lines[at - 1]):
                at -= 1
        if at >= len(lines):
            ensure_newline(lines, nl)
        lines[at:at] = new
    out = "".join(lines)

    def change(d: Any) -> None:
        e = data_list(plain_section(d, place.section), place.list)[place.index]
        if value is None:
            e.pop(key, None)
        else:
            e[key] = value

    refusal = _("{path}: could not set the {key} of entry {n} in '{section}' without changing other text")
    return verify(
        text,
        out,
        shown,
        change,
        refusal.format(path=shown, key=key, n=place.index + 1, section=place.section),
    )
