"""The curation edits (pipeline.curate.edit): each one changes exactly its lines, keeps every other
byte (comments above all), reads back as intended, and refuses what it cannot do safely."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from pipeline.curate import edit
from pipeline.curate.edit import EditRefused, FileChanged, Place
from pipeline.domain import i18n

SHOWN = "issues/2026-12.yaml"

# A file as an editor keeps it: the draft's comments, a hand-written note, an announcement in
# flow style, CRLF-free, ending with the program's block.
ISSUE = """\
# Issue 2026-12, drafted; the editors' notes below are theirs.

id: "2026-12"
subject:          # required: the subject line subscribers see, at most 60 characters
preheader: Wat partners deden   # keep it short
intro:            # Markdown, a few sentences
# send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time
sections:
  - section: uitgelicht   # Uitgelicht · featured
    items:
      # Consultatiebureau vraagt naar geldzorgen
      # GGD Fryslân · 24 november 2026
      - item: aaa111
    runners_up: []
  # Anna: partners first, please
  - section: partners   # Wat partners doen
    items:
      # Gratis ontbijt
      - item: bbb222
        title: Ontbijt op school   # our words
      # Laptops
      - item: ccc333
      - {title: Doe mee, summary: Elke twee weken., url: "https://www.example.org/s"}
    runners_up:
      # Sportpas
      - item: ddd444
  - section: agenda
    items: []

# ---- Written by the program (draft, approve, send): do not edit below this line ----
status: draft
"""


def diff(before: str, after: str) -> list[str]:
    """The changed lines, as git diff shows them (no context)."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [ln for ln in lines if not ln.startswith(("---", "+++", "@@"))]


def items_of(text: str, section: str, which: str = "items") -> list[object]:
    data = yaml.safe_load(text)
    sec = next(s for s in data["sections"] if s["section"] == section)
    return [e.get("item") or e.get("title") for e in sec.get(which) or []]


def test_moving_an_entry_to_another_section_takes_its_comments_and_nothing_else() -> None:
    out = edit.move_entry(ISSUE, SHOWN, Place("partners", "items", 1), "agenda", "items", expect="ccc333")
    assert diff(ISSUE, out) == [
        "-      # Laptops",
        "-      - item: ccc333",
        "-    items: []",
        "+    items:",
        "+      # Laptops",
        "+      - item: ccc333",
    ]
    assert items_of(out, "partners") == ["bbb222", "Doe mee"]
    assert items_of(out, "agenda") == ["ccc333"]


def test_the_last_entry_out_leaves_an_empty_list_as_the_draft_writes_it() -> None:
    out = edit.move_entry(ISSUE, SHOWN, Place("uitgelicht", "items", 0), "partners", "items", 0)
    entry = "      # Consultatiebureau vraagt naar geldzorgen\n      # GGD Fryslân · 24 november 2026\n      - item: aaa111\n"
    expected = ISSUE.replace("    items:\n" + entry, "    items: []\n", 1).replace(
        "  - section: partners   # Wat partners doen\n    items:\n",
        "  - section: partners   # Wat partners doen\n    items:\n" + entry,
    )
    assert out == expected  # the comment above the next section ("# Anna: ...") stays where it was
    assert items_of(out, "partners") == ["aaa111", "bbb222", "ccc333", "Doe mee"]


def test_reorder_promote_and_demote() -> None:
    down = edit.move_entry(ISSUE, SHOWN, Place("partners", "items", 0), "partners", "items", 1)
    assert items_of(down, "partners") == ["ccc333", "bbb222", "Doe mee"]
    # The entry's own lines (its title and the comment on it) travel with it.
    assert (
        "      # Gratis ontbijt\n      - item: bbb222\n        title: Ontbijt op school   # our words\n"
        in down
    )
    promoted = edit.move_entry(ISSUE, SHOWN, Place("partners", "runners_up", 0), "partners", "items", None)
    assert items_of(promoted, "partners") == ["bbb222", "ccc333", "Doe mee", "ddd444"]
    assert items_of(promoted, "partners", "runners_up") == []
    assert "    runners_up: []\n" in promoted
    demoted = edit.move_entry(ISSUE, SHOWN, Place("partners", "items", 0), "uitgelicht", "runners_up", 0)
    assert items_of(demoted, "uitgelicht", "runners_up") == ["bbb222"]
    assert "    runners_up:\n      # Gratis ontbijt\n      - item: bbb222\n" in demoted


def test_remove_and_add() -> None:
    out = edit.remove_entry(ISSUE, SHOWN, Place("partners", "items", 0), expect="bbb222")
    assert diff(ISSUE, out) == [
        "-      # Gratis ontbijt",
        "-      - item: bbb222",
        "-        title: Ontbijt op school   # our words",
    ]
    added = edit.add_entry(ISSUE, SHOWN, "agenda", ["# Publieksacademie", "# Zwolle", "- item: eee555"])
    assert diff(ISSUE, added) == [
        "-    items: []",
        "+    items:",
        "+      # Publieksacademie",
        "+      # Zwolle",
        "+      - item: eee555",
    ]
    second = edit.add_entry(added, SHOWN, "partners", ["- item: fff666"], index=1)
    assert items_of(second, "partners") == ["bbb222", "fff666", "ccc333", "Doe mee"]


def test_fields_are_written_as_an_editor_would_and_keep_their_comments() -> None:
    out = edit.set_field(ISSUE, SHOWN, "subject", "Fietsen: laptops & #meer")
    assert diff(ISSUE, out) == [
        "-subject:          # required: the subject line subscribers see, at most 60 characters",
        '+subject: "Fietsen: laptops & #meer"   # required: the subject line subscribers see, at most 60 characters',
    ]
    out = edit.set_field(ISSUE, SHOWN, "preheader", "Wat partners deden in november")
    assert diff(ISSUE, out) == [
        "-preheader: Wat partners deden   # keep it short",
        "+preheader: Wat partners deden in november   # keep it short",
    ]
    out = edit.set_field(ISSUE, SHOWN, "intro", "Deze maand: **fietsen**.\r\n\r\nEn meer.")
    assert diff(ISSUE, out) == [
        "-intro:            # Markdown, a few sentences",
        "+intro: |   # Markdown, a few sentences",
        "+  Deze maand: **fietsen**.",
        "+",
        "+  En meer.",
    ]
    assert yaml.safe_load(out)["intro"] == "Deze maand: **fietsen**.\n\nEn meer.\n"
    # Once written, the intro is replaced whole: no line of the old one is left.
    again = edit.set_field(out, SHOWN, "intro", "Korter.")
    assert diff(out, again) == [
        "-intro: |   # Markdown, a few sentences",
        "-  Deze maand: **fietsen**.",
        "-",
        "-  En meer.",
        "+intro: Korter.   # Markdown, a few sentences",
    ]


def test_send_at_takes_the_place_of_the_drafts_example_and_can_be_removed() -> None:
    out = edit.set_field(ISSUE, SHOWN, "send_at", "2026-12-10T09:00")
    assert diff(ISSUE, out) == [
        "-# send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time",
        "+send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time",
    ]
    later = edit.set_field(out, SHOWN, "send_at", "2026-12-17 10:30")
    assert diff(out, later) == [
        "-send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time",
        "+send_at: 2026-12-17 10:30   # when 'newsletter run' sends it, in Europe/Amsterdam time",
    ]
    gone = edit.set_field(later, SHOWN, "send_at", "")
    assert diff(later, gone) == [
        "-send_at: 2026-12-17 10:30   # when 'newsletter run' sends it, in Europe/Amsterdam time"
    ]
    without = ISSUE.replace(
        "# send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time\n", ""
    )
    placed = edit.set_field(without, SHOWN, "send_at", "2026-12-10 09:00")
    assert diff(without, placed) == ["+send_at: 2026-12-10 09:00"]
    assert placed.index("send_at:") < placed.index("sections:")
    with pytest.raises(EditRefused, match="is not a date and time"):
        edit.set_field(ISSUE, SHOWN, "send_at", "morgen")


def test_an_entrys_own_title_and_summary() -> None:
    out = edit.set_entry_text(ISSUE, SHOWN, Place("partners", "items", 1), "title", "Laptops voor leerlingen")
    assert diff(ISSUE, out) == ["+        title: Laptops voor leerlingen"]
    assert out.index("title: Laptops") > out.index("- item: ccc333")
    summary = edit.set_entry_text(
        out, SHOWN, Place("partners", "items", 1), "summary", "Regel een\nregel twee"
    )
    assert diff(out, summary) == ["+        summary: |", "+          Regel een", "+          regel twee"]
    # An existing title is replaced in place, its comment kept; emptied, the item's own title is back.
    ours = edit.set_entry_text(ISSUE, SHOWN, Place("partners", "items", 0), "title", "Ontbijt")
    assert diff(ISSUE, ours) == [
        "-        title: Ontbijt op school   # our words",
        "+        title: Ontbijt   # our words",
    ]
    back = edit.set_entry_text(ISSUE, SHOWN, Place("partners", "items", 0), "title", "  ")
    assert diff(ISSUE, back) == ["-        title: Ontbijt op school   # our words"]


def test_refusals_leave_nothing_half_done() -> None:
    with pytest.raises(EditRefused, match="written on one line"):
        edit.set_entry_text(ISSUE, SHOWN, Place("partners", "items", 2), "title", "Anders")
    with pytest.raises(EditRefused, match="is 'bbb222', not 'ccc333'"):
        edit.remove_entry(ISSUE, SHOWN, Place("partners", "items", 0), expect="ccc333")
    with pytest.raises(EditRefused, match="has no section 'kennis'"):
        edit.move_entry(ISSUE, SHOWN, Place("partners", "items", 0), "kennis")
    with pytest.raises(EditRefused, match="has no entry 9"):
        edit.remove_entry(ISSUE, SHOWN, Place("partners", "items", 8))
    with pytest.raises(
        EditRefused, match="item 'ddd444' is in the issue already, among the runners-up of section partners"
    ):
        edit.add_entry(ISSUE, SHOWN, "agenda", ["- item: ddd444"])
    with pytest.raises(EditRefused, match="at most 150 fit"):
        edit.set_field(ISSUE, SHOWN, "subject", "x" * 151)
    flow = ISSUE.replace("    items: []\n\n#", "    items: [{item: zzz}]\n\n#")
    with pytest.raises(EditRefused, match="written on one line"):
        edit.add_entry(flow, SHOWN, "agenda", ["- item: eee555"])
    with pytest.raises(EditRefused, match="has no item to fall back on"):
        edit.set_entry_text(ISSUE, SHOWN, Place("partners", "items", 2), "title", "")


def test_a_refusal_reads_dutch_in_dutch() -> None:
    """A refusal that was glued from English pieces is one Dutch sentence, with its fix (by hand)."""
    flow = ISSUE.replace("    items: []\n\n#", "    items: [{item: zzz}]\n\n#")
    with i18n.using("nl"), pytest.raises(EditRefused) as refused:
        edit.add_entry(flow, SHOWN, "agenda", ["- item: eee555"])
    assert refused.value.message == (
        "issues/2026-12.yaml:28: de lijst 'items' van rubriek 'agenda' staat op één regel"
    )
    assert refused.value.hint == (
        "schrijf het als lijst met één '- item: ID' per regel, zoals 'newsletter draft' dat doet. "
        "Probeer het dan opnieuw"
    )
    assert flow.splitlines()[27] == "    items: [{item: zzz}]"  # line 28, as the message says


def test_apply_writes_only_the_version_the_page_was_built_from(tmp_path: Path) -> None:
    path = tmp_path / "2026-12.yaml"
    path.write_text(ISSUE, encoding="utf-8")
    seen = edit.version(ISSUE)
    new = edit.apply(path, SHOWN, seen, lambda t: edit.set_field(t, SHOWN, "subject", "Fietsen"))
    assert new == edit.version(path.read_bytes()) != seen
    saved = path.read_text(encoding="utf-8")
    with pytest.raises(FileChanged, match="changed on disk since the page was loaded"):
        edit.apply(path, SHOWN, seen, lambda t: edit.set_field(t, SHOWN, "subject", "Laptops"))
    assert path.read_text(encoding="utf-8") == saved  # the newer file is left alone
    path.unlink()
    with pytest.raises(FileChanged, match="was deleted or renamed"):
        edit.apply(path, SHOWN, new, lambda t: t)


def test_a_file_with_windows_line_ends_keeps_them() -> None:
    crlf = ISSUE.replace("\n", "\r\n")
    outs = [
        edit.move_entry(crlf, SHOWN, Place("partners", "items", 1), "agenda"),
        edit.set_field(crlf, SHOWN, "intro", "Een\n\nTwee"),
        edit.set_field(crlf, SHOWN, "send_at", "2026-12-10 09:00"),
        edit.set_entry_text(crlf, SHOWN, Place("partners", "items", 1), "summary", "a\nb"),
        edit.add_entry(crlf, SHOWN, "agenda", ["# c", "- item: x1"]),
        edit.remove_entry(crlf, SHOWN, Place("partners", "runners_up", 0)),
    ]
    for out in outs:
        assert "\n" not in out.replace("\r\n", "")
    assert diff(ISSUE, outs[2].replace("\r\n", "\n")) == [
        "-# send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time",
        "+send_at: 2026-12-10 09:00   # when 'newsletter run' sends it, in Europe/Amsterdam time",
    ]
