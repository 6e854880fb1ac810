"""An issue file (``issues/<id>.yaml``): the editors' workplace, checked, and the issue's values.

This module checks the parsed file's structure against the taxonomy (reading and writing the file:
``pipeline.infra.instance``). What needs the state
database (do the items exist, were they sent before) is checked by ``pipeline.curate``.
See docs/formats.md and docs/curate.md for the format. The program writes only the keys in
``PROGRAM_FIELDS`` (``status``, ``drafted``, ``approval``), in one block at the end of the file, and
the runners-up that ``newsletter draft --refresh`` adds; both writes keep every other byte.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError, Problem
from pipeline.domain.i18n import _
from pipeline.domain.models import Image, Item, Placement, Rendered
from pipeline.domain.schema import Checker
from pipeline.domain.yamldoc import KeyPath, YamlDoc

if TYPE_CHECKING:  # ruamel.yaml is imported where the program writes a file: reading needs only PyYAML
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

EDITOR_FIELDS = ("id", "subject", "preheader", "intro", "send_at", "sections")
# Written by 'draft', 'approve' and 'send', nothing else; kept in one block at the end of the file.
PROGRAM_FIELDS = ("status", "drafted", "approval")
PROGRAM_MARKER = "# ---- Written by the program (draft, approve, send): do not edit below this line ----"
STATUSES = ("draft", "approved", "sent", "recalled")
ENTRY_FIELDS = ("item", "title", "summary", "url", "image", "partner")
ISSUE_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}\Z")
SUBJECT_MAX = 150  # hard limit; 'check' warns from 60
PREHEADER_MAX = 200
INTRO_MAX = 4000
SECTION_FIELDS = ("section", "personalise", "rest", "items", "runners_up")
# A section personalised by the readers' choice (pipeline.domain.editions): hers first, and the rest
# folded under "Meer uit het land" (fold) or left out (omit).
PERSONALISE = ("provinces", "themes")
REST_FOLD, REST_OMIT = "fold", "omit"
RESTS = (REST_FOLD, REST_OMIT)


@dataclass(frozen=True)
class Entry:
    """One line-up entry: a reference to a collected item (with optional overrides), or a
    hand-written announcement with its own title, summary and link."""

    line: int
    item: str | None = None
    title: str | None = None
    summary: str | None = None
    url: str | None = None
    image: Image | None = None
    partner: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    line: int
    items: tuple[Entry, ...] = ()
    runners_up: tuple[Entry, ...] = ()
    personalise: str | None = None  # "provinces" or "themes": an edition per reader's choice
    rest: str = REST_FOLD  # with personalise: the other entries folded, or left out ("omit")


@dataclass(frozen=True)
class Approval:
    by: str
    at: dt.datetime
    fingerprint: str


@dataclass(frozen=True)
class Issue:
    id: str
    path: str
    subject: str | None
    preheader: str | None
    intro: str | None
    send_at: dt.datetime | None
    status: str
    sections: tuple[Section, ...]
    approval: Approval | None = None
    drafted: dt.datetime | None = None  # when 'draft' last took candidates ('--refresh' adds newer ones)
    # The line of each top-level key (subject, preheader, sections, ...), for check's messages.
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    def line(self, key: str) -> int:
        return self.lines.get(key) or 1

    def entries(self) -> list[tuple[Section, Entry]]:
        """Every entry that goes out (runners-up excluded), in order."""
        return [(s, e) for s in self.sections for e in s.items]

    def placements(self) -> tuple[Placement, ...]:
        """(section, item id) of every collected item that goes out, in order."""
        return tuple((s.id, e.item) for s, e in self.entries() if e.item)


@dataclass(frozen=True)
class Prepared:
    """An issue made ready for everything that follows (render, approval, deliver), computed once.

    ``pipeline.render.prepare`` builds it from the issue file and the state database.
    """

    issue: Issue
    items: Mapping[str, Item]  # every item the issue refers to
    previous_issue_date: dt.date | None  # when the last issue before this one went out
    rendered: Rendered
    fingerprint: str  # of the content to be sent (pipeline.domain.approval)
    placements: tuple[Placement, ...]
    # The email of each edition named (pipeline.domain.editions), rendered when a send knows which
    # are in use; None for an issue that has none (every reader gets ``rendered``).
    editions: Callable[[Iterable[str]], Mapping[str, Rendered]] | None = field(default=None, compare=False)


def issue_path(root: Path, issue_id: str) -> Path:
    return root / "issues" / f"{issue_id}.yaml"


def _entry(c: Checker, kp: KeyPath, raw: object, config: Config) -> Entry | None:
    e = c.mapping(kp, raw, ENTRY_FIELDS, (), _("each entry"))
    if e is None:
        return None
    line = c.doc.line(*kp) or 0
    item = c.text((*kp, "item"), e.get("item"))
    title = c.text((*kp, "title"), e.get("title"), max_len=200)
    summary = c.text((*kp, "summary"), e.get("summary"), max_len=1500)
    url = c.url((*kp, "url"), e.get("url"))
    partner = c.ref((*kp, "partner"), e["partner"], config.partners, "partner") if e.get("partner") else None
    image = None
    if e.get("image") is not None:
        im = c.mapping((*kp, "image"), e["image"], ("url", "alt", "consent"), ("url",), "'image'")
        if im:
            img_url = c.url((*kp, "image", "url"), im.get("url"))
            alt = c.text((*kp, "image", "alt"), im.get("alt"))
            consent = c.boolean((*kp, "image", "consent"), im.get("consent"))
            if img_url:
                image = Image(img_url, alt, consent)
    if not item:
        missing = [k for k in ("title", "summary", "url") if not e.get(k)]
        if missing:
            message = _(
                "an entry needs 'item: ID' (a collected item) or, for a hand-written announcement, "
                "'title', 'summary' and 'url' (missing: {missing})"
            )
            c.error(kp, message.format(missing=", ".join(missing)))
            return None
    return Entry(line, item, title, summary, url, image, partner)


def _personalise(
    c: Checker, kp: KeyPath, s: Mapping[str, Any], config: Config, sid: str | None
) -> tuple[str | None, str]:
    """A section's ``personalise`` and ``rest``, checked."""
    personalise = c.text((*kp, "personalise"), s.get("personalise")) if s.get("personalise") else None
    if personalise is not None and personalise not in PERSONALISE:
        message = _("'personalise: {value}' is not one of {allowed}; e.g. 'personalise: provinces'")
        c.error((*kp, "personalise"), message.format(value=personalise, allowed=", ".join(PERSONALISE)))
        personalise = None
    term = config.taxonomy.sections.get(sid) if sid else None
    if personalise and term is not None and term.featured:
        message = _(
            "section '{section}' is featured (one story for everyone) and cannot be personalised; "
            "remove 'personalise'"
        )
        c.error((*kp, "personalise"), message.format(section=sid))
    rest = REST_FOLD
    if s.get("rest") is not None:
        rest = c.text((*kp, "rest"), s.get("rest")) or REST_FOLD
        if rest not in RESTS:
            message = _(
                "'rest: {value}' is not one of {allowed}; 'fold' puts the rest under \"Meer uit het land\""
            )
            c.error((*kp, "rest"), message.format(value=rest, allowed=", ".join(RESTS)))
            rest = REST_FOLD
        elif not s.get("personalise"):
            c.error(
                (*kp, "rest"),
                _("'rest' goes with 'personalise: provinces' (or themes); add that, or remove 'rest'"),
            )
    return personalise, rest


def _warn_of_a_clock_change(c: Checker, when: dt.datetime) -> None:
    """A send_at the clocks skip or pass twice, on the nights they change (written without an offset)."""
    real = when.astimezone(dt.UTC).astimezone(when.tzinfo)
    wall = f"{when:%Y-%m-%d %H:%M}"
    if real.replace(tzinfo=None) != when.replace(tzinfo=None):
        message = _(
            "send_at {time} does not exist: the clocks go forward that night, so it counts as {real}; "
            "choose another time"
        )
        c.warn(("send_at",), message.format(time=wall, real=f"{real:%H:%M %Z}"))
    elif when.replace(fold=1).utcoffset() != when.utcoffset():
        first, second = when.replace(fold=0), when.replace(fold=1)
        message = _(
            "send_at {time} comes twice: the clocks go back that night; it counts as the first ({first}); "
            "write {first_choice} or {second_choice} to choose"
        )
        choices = {"first_choice": send_at_text(first), "second_choice": send_at_text(second)}
        c.warn(("send_at",), message.format(time=wall, first=f"{first:%H:%M %Z}", **choices))


def send_at_text(when: dt.datetime) -> str:
    """A send_at as an issue file writes it: ``2026-12-10 09:00``, with its offset (``+01:00``) when it
    has a zone."""
    text = f"{when:%Y-%m-%d %H:%M}"
    if when.tzinfo is None:
        return text
    offset = f"{when:%z}"
    return f"{text}{offset[:3]}:{offset[3:]}"


def check_issue_doc(
    doc: YamlDoc, config: Config, expected_id: str | None = None
) -> tuple[Issue | None, list[Problem]]:
    c = Checker(doc)
    d = c.mapping((), doc.data, EDITOR_FIELDS + PROGRAM_FIELDS, ("id", "sections"), _("an issue file"))
    if d is None:
        return None, c.problems
    issue_id = c.text(("id",), d.get("id"))
    if issue_id and not ISSUE_ID_RE.match(issue_id):
        message = _("issue id '{id}' should be letters, digits, '.', '-' or '_' (e.g. 2026-12)")
        c.error(("id",), message.format(id=issue_id))
    if issue_id and expected_id and issue_id != expected_id:
        message = _("id '{id}' does not match the file name; change it to '{expected}'")
        c.error(("id",), message.format(id=issue_id, expected=expected_id))
    subject = c.text(("subject",), d.get("subject"), max_len=SUBJECT_MAX)
    preheader = c.text(("preheader",), d.get("preheader"), max_len=PREHEADER_MAX)
    intro = c.text(("intro",), d.get("intro"), max_len=INTRO_MAX)
    send_at = None
    if d.get("send_at") is not None:
        send_at = c.when(("send_at",), d.get("send_at"), config.settings.timezone)
        if send_at and isinstance(d["send_at"], dt.date) and not isinstance(d["send_at"], dt.datetime):
            c.error(("send_at",), _("'send_at' needs a time as well, e.g. 2026-12-10 09:00"))
        elif send_at is not None and send_at.tzinfo is config.settings.timezone:  # written without an offset
            _warn_of_a_clock_change(c, send_at)
    status = c.text(("status",), d.get("status", "draft")) or "draft"
    if status not in STATUSES:
        message = _("status '{status}' is not one of {statuses}; the program sets it")
        c.error(("status",), message.format(status=status, statuses=", ".join(STATUSES)))
    drafted = c.when(("drafted",), d.get("drafted"), config.settings.timezone)
    approval = None
    if d.get("approval") is not None:
        a = c.mapping(("approval",), d["approval"], ("by", "at", "fingerprint"), ("by", "at", "fingerprint"))
        if a:
            at = c.when(("approval", "at"), a.get("at"), config.settings.timezone)
            by = c.text(("approval", "by"), a.get("by"))
            fp = c.text(("approval", "fingerprint"), a.get("fingerprint"))
            if at and by and fp:
                approval = Approval(by, at, fp)
    sections = []
    seen_sections: dict[str, int] = {}
    for i, raw in enumerate(c.seq(("sections",), d.get("sections"), "'sections'")):
        kp: KeyPath = ("sections", i)
        s = c.mapping(kp, raw, SECTION_FIELDS, ("section",), _("each section"))
        if s is None:
            continue
        sid = c.ref((*kp, "section"), s.get("section"), config.taxonomy.sections, "section")
        if sid and sid in seen_sections:
            c.error(
                (*kp, "section"),
                _("section '{section}' appears twice (also on line {line}); merge them").format(
                    section=sid, line=seen_sections[sid]
                ),
            )
        if sid:
            seen_sections[sid] = doc.line(*kp, "section") or 0
        entries = [
            _entry(c, (*kp, "items", j), e, config)
            for j, e in enumerate(c.seq((*kp, "items"), s.get("items"), "'items'"))
        ]
        runners = [
            _entry(c, (*kp, "runners_up", j), e, config)
            for j, e in enumerate(c.seq((*kp, "runners_up"), s.get("runners_up"), "'runners_up'"))
        ]
        personalise, rest = _personalise(c, kp, s, config, sid)
        if sid:
            sections.append(
                Section(
                    sid,
                    doc.line(*kp) or 0,
                    tuple(e for e in entries if e),
                    tuple(e for e in runners if e),
                    personalise,
                    rest,
                )
            )
    if not c.ok or not issue_id:
        return None, c.problems
    lines = {k: doc.lines[(k,)] for k in (*EDITOR_FIELDS, *PROGRAM_FIELDS) if (k,) in doc.lines}
    return Issue(
        issue_id, doc.path, subject, preheader, intro, send_at, status, tuple(sections), approval,
        drafted, lines,
    ), c.problems  # fmt: skip


# -- program writes -----------------------------------------------------------------------------
# The program changes an editor's file in two ways only, and both are splices into the text at
# positions that ruamel.yaml (a round-trip parser) finds: the block of PROGRAM_FIELDS at the end,
# and runners-up appended by 'draft --refresh'. Dumping the whole document again would be simpler,
# but even a round-trip dump re-indents and re-wraps a hand-edited file; a splice cannot.


class IssueFileError(PipelineError):
    "An issue file cannot be changed by the program without touching the editor's text."


def _rt_yaml() -> YAML:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.width = 4096  # never wrap a long value the program writes
    return y


def _rt_load(text: str, shown: str) -> CommentedMap:
    from ruamel.yaml.comments import CommentedMap

    try:
        data = _rt_yaml().load(text)
    except Exception as e:  # ruamel raises many kinds; the structure check has reported the cause
        raise IssueFileError(
            _("{path} cannot be read: {reason}").format(path=shown, reason=e),
            _("run 'newsletter validate {path}' and fix what it reports").format(path=shown),
        ) from None
    if not isinstance(data, CommentedMap):
        raise IssueFileError(
            _("{path} is not a mapping of keys").format(path=shown), _("see docs/curate.md for the format")
        )
    return data


def _is_filler(line: str) -> bool:
    """A blank or comment-only line: it belongs to what follows it, not to what precedes it."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _trim_end(lines: list[str], start: int, end: int) -> int:
    """``end`` moved up past blank and comment lines, but never above ``start + 1``."""
    while end > start + 1 and _is_filler(lines[end - 1]):
        end -= 1
    return end


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def set_program_fields(text: str, shown: str, **values: Any) -> str:
    """``text`` with the program-owned keys set to ``values`` (None removes one), every other byte kept.

    The keys are written together, in the order of PROGRAM_FIELDS, below PROGRAM_MARKER at the end
    of the file; wherever an earlier write or an editor left them, they are taken out first.
    """
    unknown = set(values) - set(PROGRAM_FIELDS)
    if unknown:
        raise ValueError(f"not program-owned: {sorted(unknown)}")
    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    starts = sorted(data.lc.key(k)[0] for k in data)
    current = {k: data[k] for k in PROGRAM_FIELDS if k in data}
    spans = []
    for key in current:
        start = data.lc.key(key)[0]
        later = [s for s in starts if s > start]
        spans.append((start, _trim_end(lines, start, later[0] if later else len(lines))))
    for start, end in sorted(spans, reverse=True):
        del lines[start:end]
    from ruamel.yaml.comments import CommentedMap

    merged = {**current, **values}
    # A plain mapping (an approval: by, at, fingerprint) is written in block style, key by key.
    block = CommentedMap(
        (k, CommentedMap(merged[k]) if isinstance(merged[k], dict) else merged[k])
        for k in PROGRAM_FIELDS
        if merged.get(k) is not None
    )
    out = "".join(lines)
    if out and not out.endswith("\n"):
        out += nl
    if not block:
        return out
    if PROGRAM_MARKER not in out:
        out += ("" if out.endswith(nl + nl) or not out else nl) + PROGRAM_MARKER + nl
    buf = io.StringIO()
    _rt_yaml().dump(block, buf)
    return out + buf.getvalue().replace("\n", nl)


def add_runners_up(text: str, shown: str, additions: Mapping[str, list[list[str]]]) -> tuple[str, list[str]]:
    """``text`` with entries appended to the runners-up of the named sections, every other byte kept.

    ``additions`` maps a section id to entries, each a list of lines without indentation (comment
    lines, then ``- item: ID``). Returns the new text and the sections that are not in the file
    (the editor removed them; their candidates are left out).
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    data = _rt_load(text, shown)
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    top = sorted(data.lc.key(k)[0] for k in data)
    seq = data.get("sections")
    if not isinstance(seq, CommentedSeq):
        raise IssueFileError(
            _("{path} has no list of 'sections'").format(path=shown), _("see docs/curate.md for the format")
        )
    sections_line = data.lc.key("sections")[0]
    after_sections = [s for s in top if s > sections_line]
    sections_end = after_sections[0] if after_sections else len(lines)
    inserts: list[tuple[int, list[str]]] = []  # (line index, lines to insert before it)
    edits: dict[int, str] = {}  # line index -> replacement line
    found = set()
    for i, sec in enumerate(seq):
        if not isinstance(sec, CommentedMap) or sec.get("section") not in additions:
            continue
        sid = sec["section"]
        found.add(sid)
        entries = additions[sid]
        if not entries:
            continue
        sec_start = sec.lc.line
        sec_end = seq.lc.item(i + 1)[0] if i + 1 < len(seq) else sections_end
        key_col = sec.lc.key("section")[1]
        ru = sec.get("runners_up")
        if "runners_up" in sec:
            ru_line, ru_col = sec.lc.key("runners_up")
            later = [sec.lc.key(k)[0] for k in sec if sec.lc.key(k)[0] > ru_line]
            end = _trim_end(lines, ru_line, min([*later, sec_end]))
            if isinstance(ru, CommentedSeq) and len(ru) and ru.fa.flow_style():
                raise IssueFileError(
                    _("{path}:{line}: the runners-up of section '{section}' are written on one line").format(
                        path=shown, line=ru_line + 1, section=sid
                    ),
                    _("write them as a list, one '- item: ID' line each, then run draft --refresh again"),
                )
            if isinstance(ru, CommentedSeq) and len(ru):
                item_line, item_col = ru.lc.item(0)
                dash = lines[item_line][:item_col].rstrip()
                indent = len(dash) - 1 if dash.endswith("-") else ru_col + 2
            else:
                indent = ru_col + 2
                # 'runners_up: []' (or empty): drop the brackets, keep any comment on the line
                edits[ru_line] = re.sub(r"(runners_up:)\s*\[\s*\]", r"\1", lines[ru_line], count=1)
                end = ru_line + 1
            block = [" " * indent + line + nl for entry in entries for line in entry]
        else:
            end = _trim_end(lines, sec_start, sec_end)
            block = [" " * key_col + "runners_up:" + nl]
            block += [" " * (key_col + 2) + line + nl for entry in entries for line in entry]
        inserts.append((end, block))
    for index, replacement in edits.items():
        lines[index] = replacement
    for index, block in sorted(inserts, key=lambda x: x[0], reverse=True):
        lines[index:index] = block
    out = "".join(lines)
    _verify_runners_up(out, shown, data, additions, found)
    return out, [s for s in additions if s not in found and additions[s]]


def _entry_ids(entries: Any) -> list[Any]:
    return [e.get("item") for e in entries or [] if isinstance(e, dict)]


def _verify_runners_up(
    out: str, shown: str, before: CommentedMap, additions: Mapping[str, list[list[str]]], found: set[str]
) -> None:
    """Read the result back: each section must hold exactly its old runners-up plus the new ones."""
    after = _rt_load(out, shown)
    old = {s.get("section"): s for s in before["sections"] if isinstance(s, dict)}
    for sec in after.get("sections") or []:
        sid = sec.get("section") if isinstance(sec, dict) else None
        if sid not in found:
            continue
        added = [re.sub(r"^- item:\s*", "", e[-1]).strip() for e in additions[sid]]
        expected = _entry_ids(old[sid].get("runners_up")) + added
        if _entry_ids(sec.get("runners_up")) != expected or _entry_ids(sec.get("items")) != _entry_ids(
            old[sid].get("items")
        ):
            raise IssueFileError(
                _(
                    "{path}: could not add runners-up to section '{section}' without changing your text"
                ).format(path=shown, section=sid),
                _(
                    "write section '{section}' in block style (one key per line, as 'newsletter draft' "
                    "writes it)"
                ).format(section=sid),
            )
