"""An issue file (``issues/<id>.yaml``): the editors' workplace, read and checked.

This module reads and checks the file's structure against the taxonomy. What needs the state
database (do the items exist, were they sent before) is checked by ``pipeline.curate``.
See docs/formats.md for the format. The program writes only ``status`` and ``approval``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import InputInvalid, Problem
from pipeline.models import Image
from pipeline.schema import Checker
from pipeline.yamlfile import KeyPath, YamlDoc, load

EDITOR_FIELDS = ("id", "subject", "preheader", "intro", "send_at", "sections")
PROGRAM_FIELDS = ("status", "approval")  # written by 'approve' and 'send', nothing else
STATUSES = ("draft", "approved", "sent")
ENTRY_FIELDS = ("item", "title", "summary", "url", "image", "partner")
ISSUE_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
SUBJECT_MAX = 150  # hard limit; 'check' warns from 60
PREHEADER_MAX = 200
INTRO_MAX = 4000


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

    def entries(self) -> list[tuple[Section, Entry]]:
        """Every entry that goes out (runners-up excluded), in order."""
        return [(s, e) for s in self.sections for e in s.items]


def issue_path(root: Path, issue_id: str) -> Path:
    return root / "issues" / f"{issue_id}.yaml"


def _entry(c: Checker, kp: KeyPath, raw: object, config: Config) -> Entry | None:
    e = c.mapping(kp, raw, ENTRY_FIELDS, (), "each entry")
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
            c.error(
                kp,
                "an entry needs 'item: ID' (a collected item) or, for a hand-written announcement, "
                f"'title', 'summary' and 'url' (missing: {', '.join(missing)})",
            )
            return None
    return Entry(line, item, title, summary, url, image, partner)


def check_issue_doc(
    doc: YamlDoc, config: Config, expected_id: str | None = None
) -> tuple[Issue | None, list[Problem]]:
    c = Checker(doc)
    d = c.mapping((), doc.data, EDITOR_FIELDS + PROGRAM_FIELDS, ("id", "sections"), "an issue file")
    if d is None:
        return None, c.problems
    issue_id = c.text(("id",), d.get("id"))
    if issue_id and not ISSUE_ID_RE.match(issue_id):
        c.error(("id",), f"issue id '{issue_id}' should be letters, digits, '.', '-' or '_' (e.g. 2026-12)")
    if issue_id and expected_id and issue_id != expected_id:
        c.error(("id",), f"id '{issue_id}' does not match the file name; change it to '{expected_id}'")
    subject = c.text(("subject",), d.get("subject"), max_len=SUBJECT_MAX)
    preheader = c.text(("preheader",), d.get("preheader"), max_len=PREHEADER_MAX)
    intro = c.text(("intro",), d.get("intro"), max_len=INTRO_MAX)
    send_at = None
    if d.get("send_at") is not None:
        send_at = c.when(("send_at",), d.get("send_at"), config.settings.timezone)
        if send_at and isinstance(d["send_at"], dt.date) and not isinstance(d["send_at"], dt.datetime):
            c.error(("send_at",), "'send_at' needs a time as well, e.g. 2026-12-10 09:00")
    status = c.text(("status",), d.get("status", "draft")) or "draft"
    if status not in STATUSES:
        c.error(("status",), f"status '{status}' is not one of {', '.join(STATUSES)}; the program sets it")
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
        s = c.mapping(kp, raw, ("section", "items", "runners_up"), ("section",), "each section")
        if s is None:
            continue
        sid = c.ref((*kp, "section"), s.get("section"), config.taxonomy.sections, "section")
        if sid and sid in seen_sections:
            c.error(
                (*kp, "section"),
                f"section '{sid}' appears twice (also on line {seen_sections[sid]}); merge them",
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
        if sid:
            sections.append(
                Section(
                    sid,
                    doc.line(*kp) or 0,
                    tuple(e for e in entries if e),
                    tuple(e for e in runners if e),
                )
            )
    if not c.ok or not issue_id:
        return None, c.problems
    return Issue(
        issue_id, doc.path, subject, preheader, intro, send_at, status, tuple(sections), approval
    ), c.problems


def check_issue_file(path: Path, config: Config, display: str) -> tuple[Issue | None, list[Problem]]:
    try:
        doc = load(path, display)
    except InputInvalid as e:
        return None, list(e.problems)
    return check_issue_doc(doc, config, expected_id=path.stem)


def load_issue(config: Config, issue_id: str) -> Issue:
    """The checked issue ``issue_id``; raises InputInvalid with every problem."""
    from pipeline.errors import NotFound, display_path

    path = issue_path(config.root, issue_id)
    if not path.exists():
        raise NotFound(f"no issue '{issue_id}': {display_path(path, config.root)} does not exist",
                       f"run 'newsletter draft {issue_id}' to start it")  # fmt: skip
    issue, problems = check_issue_file(path, config, display_path(path, config.root))
    if issue is None:
        raise InputInvalid(problems)
    return issue
