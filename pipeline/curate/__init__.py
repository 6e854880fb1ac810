"""Curate: draft an issue from collected items, check it, approve it, and say where each issue stands.

The issue file (``issues/<id>.yaml``) is the editors' workplace, so the program writes it only
twice: ``draft`` writes a new file, and afterwards touches just the program-owned block at its
end (``status``, ``drafted``, ``approval``) and, with ``--refresh``, appends new runners-up;
``pipeline.domain.issues`` does both as splices that keep every other byte. The entry points:

- ``draft``: rank the candidates (``pipeline.curate.ranking``) and write, or refresh, the file;
- ``check``: what the structure check cannot see (the database, coverage, links, plain Dutch);
- ``fingerprint``, ``approve``, ``approval_state``, ``mark_sent``: approval bound to the exact
  content to be sent, which ``pipeline.deliver`` verifies before anything goes to the list;
- ``statuses``: every issue's state, for ``newsletter status``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.curate import ranking
from pipeline.domain import dutch, i18n, plain
from pipeline.domain.config import NATIONWIDE, Config
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError, Problem, display_path
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.issues import (
    ISSUE_ID_RE,
    PROGRAM_FIELDS,
    Approval,
    Entry,
    Issue,
    add_runners_up,
    issue_path,
    set_program_fields,
)
from pipeline.domain.markup import plain_text
from pipeline.domain.models import DeliveryState, Image, IssueState, Item
from pipeline.domain.urls import same_page, tracking_params
from pipeline.domain.yamldoc import KeyPath, YamlDoc
from pipeline.infra.approval import approval_state, fingerprint, issue_items
from pipeline.infra.files import atomic_write
from pipeline.infra.instance import check_issue_file, write_program_fields
from pipeline.infra.store import Store
from pipeline.infra.yamlfile import load

if TYPE_CHECKING:
    import httpx

FIRST_WINDOW_DAYS = 45  # candidates for the very first issue, when no issue was sent before
EVENT_LOOKBACK_DAYS = 180  # events announced up to this long ago are still candidates until they start
SUMMARY_PREVIEW = 160  # characters of summary in an entry's comment
LINK_TIMEOUT = 10.0  # seconds per link for 'check --links'
LINK_CONCURRENCY = 8  # links checked at once


@dataclass(frozen=True)
class Draft:
    """What ``draft`` wrote, and the candidates it could place in no section (with why)."""

    path: Path
    candidates: int
    unplaced: Mapping[str | None, Sequence[str]]  # kind (None: none) -> the sources of those items

    def unplaced_lines(self, config: Config) -> list[str]:
        """Why candidates were left out, in words an editor can act on (empty when none were)."""
        lines = []
        for kind, sources in self.unplaced.items():
            names = ", ".join(sorted(set(sources))[:8])
            if kind is None:
                lines.append(
                    _(
                        "{n} candidate(s) have no kind, and every section lists the kinds it takes "
                        "(from: {names}); add 'kind: ID' to those feeds in sources.yaml"
                    ).format(n=len(sources), names=names)
                )
            else:
                title = config.taxonomy.kinds.title(kind, kind)
                lines.append(
                    _(
                        "{n} candidate(s) of kind '{kind}' ({title}) fit no section (from: {names}); "
                        "add '{kind}' to a section's 'kinds' in sources.yaml"
                    ).format(n=len(sources), kind=kind, title=title, names=names)
                )
        return lines


class DraftRefused(PipelineError):
    "The issue cannot be drafted (again): it exists, or it was approved or sent."


class ApprovalRefused(PipelineError):
    "The issue cannot be approved: it was sent already, or check reports errors."


# -- candidates --------------------------------------------------------------------------------
def _aware(value: dt.date | dt.datetime, config: Config) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=config.settings.timezone)
    return dt.datetime(value.year, value.month, value.day, tzinfo=config.settings.timezone)


def default_since(store: Store, now: dt.datetime) -> dt.datetime:
    """When the last issue went to the list; before the first one, FIRST_WINDOW_DAYS ago."""
    sent = [row.started_at for row in store.sent_issues()]
    if sent:
        return max(sent)
    return now - dt.timedelta(days=FIRST_WINDOW_DAYS)


def eligible_items(store: Store, since: dt.datetime, now: dt.datetime) -> list[Item]:
    """Items published since ``since`` and events yet to start; never an item already sent."""
    sent = store.sent_item_ids()
    found = {i.id: i for i in store.items(since=since)}
    # An event announced long ago still belongs in the agenda until it starts.
    for i in store.items(since=now - dt.timedelta(days=EVENT_LOOKBACK_DAYS)):
        if i.starts is not None:
            found.setdefault(i.id, i)
    return [
        i for i in found.values()
        if i.id not in sent and (i.starts is None or (i.ends or i.starts) >= now)
    ]  # fmt: skip


# -- the drafted file --------------------------------------------------------------------------
def _plain(value: str) -> str:
    """``value`` as a YAML scalar: bare when YAML reads it back as the same text, else quoted."""
    simple = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value) and not re.fullmatch(r"[0-9.eE+_-]+", value)
    if simple and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def entry_lines(config: Config, c: ranking.Candidate) -> list[str]:
    """An entry as the draft writes it: comment lines to judge it by (in the instance's language),
    then ``- item: ID``."""
    with i18n.using(config.settings.language):
        return _entry_lines(config, c)


def _entry_lines(config: Config, c: ranking.Candidate) -> list[str]:
    item, tz = c.item, config.settings.timezone
    partner = config.partners.get(item.partner or "")
    source = config.sources.get(item.source)
    meta = [partner.name if partner else source.name if source else item.source]
    meta.append(i18n.date(item.published.astimezone(tz).date(), weekday=False))
    kind = config.taxonomy.kinds.get(item.kind or "")
    if kind:
        meta.append(kind.title)
    if item.starts is not None:
        meta.append(dutch.span(item.starts, item.ends, tz) + (f", {item.location}" if item.location else ""))
    themes = config.taxonomy.themes.titles(item.themes)
    if themes:
        meta.append(", ".join(themes))
    if item.ervaringsdeskundigen:
        meta.append(_("with experts by experience"))
    meta.append(_("{points} points").format(points=f"{c.points:g}"))
    lines = [f"# {_one_line(item.title, 200)}", f"# {' · '.join(meta)}", f"# {item.url}"]
    summary = _one_line(item.summary_text or plain_text(item.summary_html), SUMMARY_PREVIEW)
    if summary:
        lines.append(f"# {summary}")
    lines.append(f"- item: {_plain(item.id)}")
    return lines


def _header(config: Config, issue_id: str, since: dt.datetime, now: dt.datetime, n: int) -> list[str]:
    tz = config.settings.timezone
    day = i18n.date(since.astimezone(tz).date(), weekday=False)
    # Each message is a paragraph or a bullet, broken into lines where the message has a line break.
    paragraphs = [
        _("Issue {issue} of {title}").format(issue=issue_id, title=config.settings.title),
        ngettext(
            "Drafted by 'newsletter draft' from {n} candidate collected since {day}.",
            "Drafted by 'newsletter draft' from {n} candidates collected since {day}.",
            n,
        ).format(n=n, day=day),
        "",
        _("How to edit: this file is yours; the program never rewrites what you write."),
        _("- Write the subject (at most 60 characters), the preheader and the intro (Markdown) below."),
        _(
            "- Under each section, 'items' go out in their order. Reorder them, delete them, move them to\n"
            "  another section; promote a runner-up by moving its lines up into 'items'."
        ),
        _("- Give an item your own words: add 'title: ...' or 'summary: ...' on the lines under '- item:'."),
        _(
            "- Add an announcement of your own: '- {title: ..., summary: ..., url: https://...}'."
        ),  # not formatted
        _(
            "- 'newsletter draft {issue} --refresh' adds candidates that arrived since as runners-up and\n"
            "  keeps every other line. The lines above each '- item:' are comments, to judge it by."
        ).format(issue=issue_id),
        _(
            "- Then: newsletter check {issue}; newsletter render {issue}; "
            "newsletter approve {issue} --by NAME"
        ).format(issue=issue_id),
        "",
        *ranking.explanation(config),
    ]
    return [line for paragraph in paragraphs for line in paragraph.split("\n")]


def _send_at_example(config: Config, issue_id: str, now: dt.datetime) -> str:
    m = re.match(r"^(\d{4})-(\d{2})$", issue_id)
    day = f"{m.group(1)}-{m.group(2)}-10" if m else (now + dt.timedelta(days=7)).date().isoformat()
    return f"{day} 09:00"


def draft_text(
    config: Config, issue_id: str, ranked: Sequence[ranking.Candidate], since: dt.datetime, now: dt.datetime
) -> str:
    """The text of a new draft (the program-owned block is added by ``draft``); its comments are in
    the instance's language (``newsletter.language``): the editors read them."""
    with i18n.using(config.settings.language):
        return _draft_text(config, issue_id, ranked, since, now)


def _draft_text(
    config: Config, issue_id: str, ranked: Sequence[ranking.Candidate], since: dt.datetime, now: dt.datetime
) -> str:
    zone = config.settings.timezone.key
    out = [f"# {line}".rstrip() for line in _header(config, issue_id, since, now, len(ranked))]
    subject = _("required: the subject line subscribers see, at most 60 characters")
    preheader = _("the line mail apps show after the subject")
    intro = _("Markdown, a few sentences: write 'intro: |', then the text on the lines below")
    send_at = _("when 'newsletter run' sends it, in {zone} time (or with an offset: +01:00)").format(
        zone=zone
    )
    out += [
        "",
        f"id: {_plain(issue_id)}",
        f"subject:          # {subject}",
        f"preheader:        # {preheader}",
        f"intro:            # {intro}",
        f"# send_at: {_send_at_example(config, issue_id, now)}   # {send_at}",
        "sections:",
    ]
    for sec in ranking.lineup(config, ranked):
        term = config.taxonomy.sections[sec.section]
        about = [term.title]
        if term.kinds:
            about.append("kinds: " + ", ".join(term.kinds))
        about.append(_("at most {n}").format(n=term.limit))
        if term.featured:
            about.append(_("featured"))
        out.append(f"  - section: {_plain(sec.section)}   # {' · '.join(about)}")
        for key, entries in (("items", sec.items), ("runners_up", sec.runners_up)):
            if not entries:
                out.append(f"    {key}: []")
                continue
            out.append(f"    {key}:")
            out += [f"      {line}" for c in entries for line in entry_lines(config, c)]
    return "\n".join(out) + "\n"


def draft(
    config: Config,
    store: Store,
    issue_id: str,
    *,
    since: dt.date | dt.datetime | None = None,
    refresh: bool = False,
    now: dt.datetime | None = None,
) -> Draft:
    """Write ``issues/<issue_id>.yaml`` from the ranked candidates; with ``refresh``, add new ones.

    A new draft takes the items published since the last sent issue (or ``since``). A refresh
    appends, as runners-up, the candidates that arrived after the last draft and are not in the
    file yet; every other byte of the file stays as the editor left it.
    """
    now = now or dt.datetime.now(dt.UTC)
    if not ISSUE_ID_RE.match(issue_id):
        raise PipelineError(
            _("'{issue}' is not an issue id").format(issue=issue_id),
            _("use letters, digits, '.', '-' or '_', such as 2026-12"),
        )
    path = issue_path(config.root, issue_id)
    shown = display_path(path, config.root)
    start = _aware(since, config) if since is not None else default_since(store, now)
    sent = store.sent_issue(issue_id)
    if sent:
        raise DraftRefused(
            _("issue {issue} went to the list on {day}; it cannot be drafted again").format(
                issue=issue_id, day=f"{sent.started_at:%Y-%m-%d}"
            ),
            _("start the next issue instead, e.g. 'newsletter draft NEXT-ID'"),
        )
    if path.exists() and not refresh:
        raise DraftRefused(
            _("{path} exists already; drafting again would overwrite the editors' work").format(path=shown),
            _(
                "run 'newsletter draft {issue} --refresh' to add new "
                "candidates, or delete the file to start over"
            ).format(issue=issue_id),
        )
    if refresh and not path.exists():
        raise NotFound(
            _("there is no {path} to refresh").format(path=shown),
            _("run 'newsletter draft {issue}' first").format(issue=issue_id),
        )
    ranked = ranking.candidates(config, eligible_items(store, start, now), now)
    unplaced = ranking.unplaced(config, ranked)
    if refresh:
        _refresh(config, store, issue_id, path, shown, ranked, now)
    else:
        text = draft_text(config, issue_id, ranked, start, now)
        text = set_program_fields(text, shown, status="draft", drafted=_local(config, now))
        atomic_write(path, text)
    return Draft(path, len(ranked), unplaced)


def _local(config: Config, when: dt.datetime) -> dt.datetime:
    return when.astimezone(config.settings.timezone).replace(microsecond=0)


def _refresh(
    config: Config,
    store: Store,
    issue_id: str,
    path: Path,
    shown: str,
    ranked: Sequence[ranking.Candidate],
    now: dt.datetime,
) -> None:
    issue, problems = check_issue_file(path, config, shown)
    if issue is None:
        raise InputInvalid(problems)
    state = approval_state(config, store, issue)
    if state not in (IssueState.DRAFT, IssueState.RECALLED):
        if state in (IssueState.APPROVED, IssueState.CHANGED) and issue.approval:
            why = _(
                "issue {issue} was approved by {by} on {at}; refreshing it would change what was approved"
            )
        else:
            why = {
                IssueState.APPROVED: _(
                    "issue {issue} was approved; refreshing it would change what was approved"
                ),
                IssueState.CHANGED: _(
                    "issue {issue} was approved (and changed since); refreshing "
                    "it would change what was approved"
                ),
                IssueState.SENDING: _(
                    "issue {issue} is being sent; refreshing it would change what was approved"
                ),
                IssueState.SCHEDULED: _(
                    "issue {issue} is scheduled at SendGrid; refreshing it would change what was approved"
                ),
                IssueState.SENT: _("issue {issue} was sent; refreshing it would change what was approved"),
            }[state]
        raise DraftRefused(
            why.format(
                issue=issue_id,
                by=issue.approval.by if issue.approval else "",
                at=f"{issue.approval.at:%Y-%m-%d %H:%M}" if issue.approval else "",
            ),
            _("edit {path} by hand; to draft again, delete its 'status' and 'approval' lines first").format(
                path=shown
            ),
        )
    in_file = {e.item for s in issue.sections for e in (*s.items, *s.runners_up) if e.item}
    fresh = [c for c in ranked if c.item.id not in in_file]
    if issue.drafted is not None:
        # Only what arrived after the last draft: an entry the editor deleted stays deleted.
        drafted = issue.drafted
        fresh = [c for c in fresh if (c.item.first_seen or c.item.published) > drafted]
    additions: dict[str, list[list[str]]] = {}
    for c in fresh:
        where = ranking.home(config, c)
        if where and len(additions.setdefault(where, [])) < ranking.RUNNERS_UP_MAX:
            additions[where].append(entry_lines(config, c))
    text = path.read_text(encoding="utf-8")
    if any(additions.values()):
        text, _removed = add_runners_up(text, shown, additions)
    atomic_write(path, set_program_fields(text, shown, drafted=_local(config, now)))


# -- check --------------------------------------------------------------------------------------
def _image_of(entry: Entry, item: Item | None) -> tuple[Image | None, bool]:
    """The entry's image and whether the editor wrote it (else it is the item's own)."""
    if entry.image is not None:
        return entry.image, True
    return (item.image if item else None), False


def _title(entry: Entry, item: Item | None) -> str:
    return entry.title or (item.title if item else "") or entry.url or "?"


# What an image lacks (Image.missing), as check's messages name it.
MISSING = {
    ("alt text",): N_("alt text"),
    ("consent",): N_("consent"),
    ("alt text", "consent"): N_("alt text and no consent"),
}


def check(config: Config, store: Store, issue: Issue, *, links: bool = False) -> list[Problem]:
    """What the structure check cannot see: the items in the database, coverage, the links' hygiene,
    plain Dutch (B1), and (``links``) whether every link answers.

    Errors block approval; warnings are for the editor to weigh. Every problem names the line.
    """
    out: list[Problem] = []

    def error(line: int, message: str) -> None:
        out.append(Problem(issue.path, line, message))

    def warn(line: int, message: str) -> None:
        out.append(Problem(issue.path, line, message, "warning"))

    entries = issue.entries()
    items = store.get_items(e.item for _line, e in entries if e.item)
    earlier = {r.item: r.issue for r in store.sent_items() if r.issue != issue.id}

    # The subject's length and the preheader are bulk-sender rules, checked on the rendered
    # message by pipeline.run.check (pipeline.domain.bulk); a subject is needed to approve at all.
    if not issue.subject:
        error(
            issue.line("subject"),
            _("no subject; write 'subject: ...', the line subscribers see in their inbox"),
        )
    if not entries:
        error(issue.line("sections"), _("no section has items; move entries from 'runners_up' into 'items'"))

    seen: dict[str, tuple[str, int]] = {}
    for section, e in entries:
        item = items.get(e.item) if e.item else None
        if e.item and item is None:
            error(
                e.line,
                _(
                    "item '{item}' is not in the state database; check the id with 'newsletter items' "
                    "or run 'newsletter collect'"
                ).format(item=e.item),
            )
        if e.item and e.item in seen:
            other, line = seen[e.item]
            error(
                e.line,
                _("item '{item}' is also in section '{section}' (line {line}); keep it in one place").format(
                    item=e.item, section=other, line=line
                ),
            )
        elif e.item:
            seen[e.item] = (section.id, e.line)
        if e.item and e.item in earlier:
            error(
                e.line,
                _("item '{item}' went out in issue {issue} already; remove it from this issue").format(
                    item=e.item, issue=earlier[e.item]
                ),
            )
        image, own = _image_of(e, item)
        if image is None:
            continue
        title = _title(e, item)
        missing = image.missing()
        lacks = _(MISSING.get(missing, " and no ".join(missing))) if missing else ""
        if missing and own:
            error(
                e.line,
                _(
                    "the image of '{title}' has no {missing}; add 'alt' (what the image shows) and "
                    "'consent: true' (everyone recognisable agreed) to its 'image', or remove the image"
                ).format(title=title, missing=lacks),
            )
        elif missing:
            warn(
                e.line,
                _(
                    "the image of '{title}' has no {missing}, so it is left out; to show it, add "
                    "'image: {{url: ..., alt: ..., consent: true}}' to the entry"
                ).format(title=title, missing=lacks),
            )

    for section in issue.sections:
        term = config.taxonomy.sections.get(section.id)
        limit = term.limit if term else 0
        if limit and len(section.items) > limit:
            warn(
                section.line,
                _(
                    "section '{section}' has {n} items, over its limit of {limit}; "
                    "move {extra} to 'runners_up'"
                ).format(
                    section=section.id, n=len(section.items), limit=limit, extra=len(section.items) - limit
                ),
            )
    out += _partner_cap(config, issue, entries, items)
    if entries:
        out += _coverage(config, issue, entries, items)
    out += _link_hygiene(store, issue, entries, items, earlier)
    if config.settings.plain.enabled:
        out += _plain_language(config, issue, items)
    if links:
        out += check_links(issue, _links(issue, entries, items))
    return out


# -- links: hygiene --------------------------------------------------------------------------------------
_SUMMARY_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"', re.I)
_MARKDOWN_URL = re.compile(r"https?://[^\s)<>\]\"']+")


def _outgoing(
    issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[tuple[str, int]]:
    """Every link a reader can click, with its line: the intro's, each entry's own and those inside
    the summaries that go out (the partner's, or the editor's override)."""
    found = [
        (m.group(0).rstrip(".,;:"), issue.line("intro")) for m in _MARKDOWN_URL.finditer(issue.intro or "")
    ]
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        if url:
            found.append((url, e.line))
        if e.summary is not None:
            found += [(m.group(0).rstrip(".,;:"), e.line) for m in _MARKDOWN_URL.finditer(e.summary)]
        elif item is not None:
            found += [(unescape(m.group(1)), e.line) for m in _SUMMARY_HREF.finditer(item.summary_html)]
    return found


def _link_hygiene(
    store: Store,
    issue: Issue,
    entries: list[tuple[Any, Entry]],
    items: dict[str, Item],
    earlier: dict[str, str],
) -> list[Problem]:
    """Warnings for links that went out before, that two entries share, that are plain http, or that
    carry the partner's tracking parameters."""
    out: list[Problem] = []

    def warn(line: int, message: str) -> None:
        out.append(Problem(issue.path, line, message, "warning"))

    # Pages sent before, by what was sent: the items of earlier issues.
    before: dict[str, tuple[str, str]] = {}
    sent_items = store.get_items(earlier)
    for item_id, issue_id in earlier.items():
        sent = sent_items.get(item_id)
        key = same_page(sent.url) if sent else None
        if sent and key:
            before.setdefault(key, (issue_id, sent.title))
    first_use: dict[str, tuple[int, str | None]] = {}
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        key = same_page(url) if url else None
        if not url or not key:
            continue
        if key in before and e.item not in earlier:  # an item sent before is an error already
            issue_id, title = before[key]
            message = _(
                "link {url} also went out in issue {issue} ('{title}'); readers saw it then: "
                "remove the entry, or link to what is new"
            )
            warn(e.line, message.format(url=url, issue=issue_id, title=title))
        if key in first_use and (not e.item or first_use[key][1] != e.item):  # one item twice: an error
            message = _(
                "link {url} is also the link of the entry on line {line}; readers would get the "
                "same page twice: keep one of them"
            )
            warn(e.line, message.format(url=url, line=first_use[key][0]))
        first_use.setdefault(key, (e.line, e.item))
    reported: set[tuple[str, int]] = set()
    for url, line in _outgoing(issue, entries, items):
        if (url, line) in reported:
            continue
        reported.add((url, line))
        if url.lower().startswith("http://"):
            warn(line, _("link {url} is plain http://; write https:// if the site has it (mail apps and "
                         "browsers warn readers about http)").format(url=url))  # fmt: skip
        params = tracking_params(url)
        if params:
            warn(line, _("link {url} carries tracking parameters ({params}); remove them, the newsletter "
                         "adds its own").format(url=url, params=", ".join(params)))  # fmt: skip
    return out


# -- plain Dutch (B1) ------------------------------------------------------------------------------------
def _plain_language(config: Config, issue: Issue, items: dict[str, Item]) -> list[Problem]:
    """B1 warnings for what the editors wrote (subject, preheader, intro, each entry's title and
    summary), at the line of each sentence or word, and one warning per partner text that goes out
    unchanged (a title or summary from a feed or submission), at the entry: the editors answer for
    what readers get, and the fix is theirs, their own 'title:' or 'summary:' under the entry."""
    path = issue_path(config.root, issue.id)
    try:
        doc = load(path, issue.path)
    except InputInvalid:
        return []
    settings, known = config.settings.plain, plain.vocabulary(config)
    data = doc.data if isinstance(doc.data, dict) else {}
    texts = [
        plain.TextAt((key,), f"the {key}", data[key])
        for key in ("subject", "preheader", "intro")
        if isinstance(data.get(key), str)
    ]
    partner_texts: list[Problem] = []
    for i, section in enumerate(data.get("sections") or []):
        entries = section.get("items") if isinstance(section, dict) else None
        for j, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            kp: KeyPath = ("sections", i, "items", j)
            for key in ("title", "summary"):
                if isinstance(entry.get(key), str):
                    texts.append(plain.TextAt((*kp, key), f"the {key}", entry[key]))
            item = items.get(str(entry.get("item"))) if entry.get("item") else None
            if item is not None:
                partner_texts += _partner_texts(doc, kp, entry, item, config, known)
    return plain.check_texts(doc, texts, settings, known) + partner_texts


def _partner_texts(
    doc: YamlDoc, kp: KeyPath, entry: dict[str, Any], item: Item, config: Config, known: plain.Vocabulary
) -> list[Problem]:
    line = doc.line(*kp) or 1
    silence = plain.file_silence(doc, line)
    settings = config.settings.plain
    out = []
    partner = config.partners.get(item.partner or "")
    whose = f" ({partner.name})" if partner else ""
    if "title" not in entry:
        broken = plain.overview(item.title, "the title", settings, known, silence)
        if broken:
            message = f"{plain.ADVICE}: " + _(
                "the partner's title '{title}'{whose} is not plain Dutch: {broken}; "
                "write your own 'title:' under this entry"
            ).format(title=item.title, whose=whose, broken=", ".join(broken))
            out.append(Problem(doc.path, line, message, "warning"))
    if "summary" not in entry:
        text = item.summary_text or plain_text(item.summary_html)
        broken = plain.overview(text, "the summary", settings, known, silence)
        if broken:
            message = f"{plain.ADVICE}: " + _(
                "the partner's summary of '{title}'{whose} is not plain Dutch: {broken}; "
                "write your own 'summary:' under this entry"
            ).format(title=item.title, whose=whose, broken=", ".join(broken))
            out.append(Problem(doc.path, line, message, "warning"))
    return out


def _partner_cap(
    config: Config, issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[Problem]:
    """A warning at each collected item beyond the draft's cap of one partner (or source), in file
    order: a third story of one partner promoted or added by hand (ranking.PARTNER_CAP)."""
    out: list[Problem] = []
    lines: dict[str, list[int]] = {}
    seen: set[str] = set()
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        if item is None or item.id in seen:  # an item twice is an error of its own
            continue
        seen.add(item.id)
        who = ranking.who(config, item)
        earlier = lines.setdefault(who, [])
        earlier.append(e.line)
        if len(earlier) > ranking.PARTNER_CAP:
            partner = config.partners.get(who)
            source = config.sources.get(who.removeprefix("source:"))
            name = partner.name if partner else source.name if source else who.removeprefix("source:")
            others = ", ".join(str(n) for n in earlier[:-1])
            message = _(
                "'{title}' is item {n} from {name} in this issue (the others: lines {others}); a draft "
                "takes at most {cap} per partner: move one to 'runners_up'"
            ).format(title=_title(e, item), n=len(earlier), name=name, others=others, cap=ranking.PARTNER_CAP)
            out.append(Problem(issue.path, e.line, message, "warning"))
    return out


def _coverage(
    config: Config, issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[Problem]:
    """Warnings when the line-up leaves out what the network cares about, or leans on one place."""
    out: list[Problem] = []
    line = issue.line("sections")
    s = config.settings
    partners, provinces = Counter[str](), Counter[str]()
    sectors: set[str] = set()
    themes: set[str] = set()
    lived = False
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        pid = (item.partner if item else None) or e.partner
        partner = config.partners.get(pid or "")
        who = partner.id if partner else (f"source:{item.source}" if item else None)
        if who:
            partners[who] += 1
        if partner:
            sectors.add(partner.sector)
        if item:
            themes.update(item.themes)
            lived = lived or item.ervaringsdeskundigen
        places = (item.provinces if item else ()) or ((partner.province,) if partner else ())
        provinces.update(set(places) - {NATIONWIDE})
    for sector in s.essential_sectors:
        if sector not in sectors:
            title = config.taxonomy.sectors[sector].title
            why = _(
                "no item from the sector '{title}' ({sector}), which sources.yaml calls essential; "
                "promote one from 'runners_up'"
            ).format(title=title, sector=sector)
            out.append(Problem(issue.path, line, why, "warning"))
    for theme in s.essential_themes:
        if theme not in themes:
            title = config.taxonomy.themes[theme].title
            why = _(
                "no item on the theme '{title}' ({theme}), which sources.yaml calls essential; "
                "promote one from 'runners_up'"
            ).format(title=title, theme=theme)
            out.append(Problem(issue.path, line, why, "warning"))
    n = len(entries)
    if n >= 2:
        share = f"{s.max_share:.0%}"
        too_many = (
            (N_("{k} of {n} items are from the partner '{name}', more than {share}; look for others in "
                "'runners_up'"), partners),
            (N_("{k} of {n} items are from the province '{name}', more than {share}; look for others in "
                "'runners_up'"), provinces),
        )  # fmt: skip
        for message, counts in too_many:
            for key, k in sorted(counts.items()):
                if k > s.max_share * n:
                    name = key.removeprefix("source:")
                    text = _(message).format(k=k, n=n, name=name, share=share)
                    out.append(Problem(issue.path, line, text, "warning"))
    if not lived:
        out.append(Problem(issue.path, line, _("no item involves people with lived experience "
                           "(ervaringsdeskundigen); consider promoting one"), "warning"))  # fmt: skip
    return out


def _links(issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]) -> dict[str, int]:
    """Every link that goes out, with the line of its first use."""
    found: dict[str, int] = {}
    for m in re.finditer(r"https?://[^\s)<>\]\"']+", issue.intro or ""):
        found.setdefault(m.group(0).rstrip(".,;:"), issue.line("intro"))
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        url = e.url or (item.url if item else None)
        if url:
            found.setdefault(url, e.line)
        image, _own = _image_of(e, item)
        if image is not None and image.consent and image.alt:
            found.setdefault(image.url, e.line)
    return found


def check_links(
    issue: Issue, links: dict[str, int], *, timeout: float = LINK_TIMEOUT, concurrency: int = LINK_CONCURRENCY
) -> list[Problem]:
    """An error for each link that does not answer with success (HEAD, else GET) within ``timeout`` s."""
    import asyncio

    return asyncio.run(_check_links(issue, links, timeout, concurrency))


async def _check_links(
    issue: Issue, links: dict[str, int], timeout: float, concurrency: int
) -> list[Problem]:
    import asyncio

    import httpx  # imported here: only 'check --links' talks HTTP

    gate = asyncio.Semaphore(concurrency)
    headers = {"User-Agent": "newsletter-pipeline link check"}

    async def one(client: httpx.AsyncClient, url: str, line: int) -> Problem | None:
        async with gate:
            try:
                answer = await asyncio.wait_for(_probe(client, url), timeout)
            except (TimeoutError, httpx.TimeoutException):
                why = _("link {url} did not answer within {seconds} s; correct the address or remove it")
                return Problem(issue.path, line, why.format(url=url, seconds=f"{timeout:g}"))
            except httpx.HTTPError as e:
                why = _("link {url} cannot be reached ({error}); correct the address or remove it")
                return Problem(issue.path, line, why.format(url=url, error=type(e).__name__))
            if answer < 400:
                return None
            status = f"{answer} {httpx.codes.get_reason_phrase(answer)}".rstrip()
            why = _("link {url} answers {status}; correct the address or remove it")
            return Problem(issue.path, line, why.format(url=url, status=status))

    async with httpx.AsyncClient(follow_redirects=True, timeout=timeout, headers=headers) as client:
        found = await asyncio.gather(*(one(client, u, line) for u, line in links.items()))
    return [p for p in found if p]


async def _probe(client: httpx.AsyncClient, url: str) -> int:
    import httpx

    # HEAD is cheap, but some servers refuse or mishandle it: any failure gets one GET.
    try:
        head = await client.head(url)
        if head.status_code < 400:
            return head.status_code
    except httpx.TimeoutException:
        raise
    except httpx.HTTPError:
        pass
    async with client.stream("GET", url) as response:
        return response.status_code


def check_issue(
    config: Config, store: Store, issue_id: str, *, links: bool = False
) -> tuple[Issue | None, list[Problem]]:
    """The structure check and ``check`` together: what ``newsletter check`` prints."""
    path = issue_path(config.root, issue_id)
    shown = display_path(path, config.root)
    if not path.exists():
        raise NotFound(
            _("no issue '{issue}': {path} does not exist").format(issue=issue_id, path=shown),
            _("run 'newsletter draft {issue}'").format(issue=issue_id),
        )
    issue, problems = check_issue_file(path, config, shown)
    if issue is None:
        return None, sorted(problems)
    return issue, sorted([*problems, *check(config, store, issue, links=links)])


# -- approval -------------------------------------------------------------------------------------
APPROVER_MAX = 100  # characters of the name recorded in the file


def approve(config: Config, store: Store, issue_id: str, by: str, now: dt.datetime | None = None) -> Approval:
    """Record who approved the issue, when, and the fingerprint of its content; refused on errors."""
    by = " ".join(by.split())
    if not by:
        raise ApprovalRefused(
            _("an approval needs a name"),
            _("run 'newsletter approve {issue} --by \"Name\"'").format(issue=issue_id),
        )
    if len(by) > APPROVER_MAX or re.search("[\x00-\x1f\x7f-\x9f]", by):
        raise ApprovalRefused(
            _("an approver's name is at most {n} characters, without control characters").format(
                n=APPROVER_MAX
            ),
            _('give your name as you would sign it, e.g. --by "Anna de Vries"'),
        )
    issue, problems = check_issue(config, store, issue_id)
    errors = [p for p in problems if p.is_error]
    if issue is None or errors:
        raise InputInvalid(problems)
    fp = fingerprint(config, issue, issue_items(store, issue))
    state = approval_state(config, store, issue, fp)
    if state in (IssueState.SENDING, IssueState.SCHEDULED, IssueState.SENT):
        doing = {
            IssueState.SENDING: _("issue {issue} is being sent; approving it changes nothing"),
            IssueState.SCHEDULED: _("issue {issue} is scheduled at SendGrid; approving it changes nothing"),
        }
        raise ApprovalRefused(
            doing.get(state, _("issue {issue} was sent; approving it changes nothing")).format(
                issue=issue_id
            ),
            _(
                "run 'newsletter status' to see where it stands (a scheduled "
                "issue: 'newsletter cancel' first)"
            ),
        )
    at = _local(config, now or dt.datetime.now(dt.UTC))
    path = issue_path(config.root, issue_id)
    approval = {"by": by, "at": at, "fingerprint": fp}
    write_program_fields(path, display_path(path, config.root), status="approved", approval=approval)
    return Approval(by, at, fp)


# -- status ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueStatus:
    id: str
    state: str  # an IssueState, or "invalid" (the file has errors)
    send_at: dt.datetime | None = None  # send_at from the file; once sent without one, when it started
    approval: Approval | None = None
    counts: dict[DeliveryState, int] | None = None  # the delivery ledger, once sending started
    problem: str | None = None  # the first error of an invalid file


def statuses(config: Config, store: Store) -> list[IssueStatus]:
    """Every issue in issues/ or in the database, by id."""
    folder = config.root / "issues"
    files = {p.stem: p for p in folder.glob("*.yaml")} if folder.is_dir() else {}
    sent = {r.id: r for r in store.sent_issues()}
    out = []
    for issue_id in sorted(set(files) | set(sent)):
        counts = store.delivery_counts(issue_id) if issue_id in sent else None
        if issue_id not in files:
            state = IssueState.SENT if sent[issue_id].completed else IssueState.SENDING
            out.append(IssueStatus(issue_id, state, sent[issue_id].sent_at, counts=counts))
            continue
        issue, problems = check_issue_file(
            files[issue_id], config, display_path(files[issue_id], config.root)
        )
        if issue is None:
            first = next((p for p in problems if p.is_error), None)
            out.append(IssueStatus(issue_id, "invalid", problem=str(first) if first else None))
            continue
        state = approval_state(config, store, issue)
        when = issue.send_at
        if issue_id in sent:  # when it goes (or went) out
            when = sent[issue_id].sent_at
        out.append(IssueStatus(issue_id, state, when, issue.approval, counts))
    return out


__all__ = [
    "PROGRAM_FIELDS",
    "ApprovalRefused",
    "DraftRefused",
    "IssueStatus",
    "approve",
    "check",
    "check_issue",
    "draft",
    "statuses",
]
