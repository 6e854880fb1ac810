"""Drafting an issue: the candidates, the text of a new draft, and ``--refresh``."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.curate import ranking
from pipeline.domain import dutch, i18n
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError, display_path
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.issues import ISSUE_ID_RE, add_runners_up, issue_path, set_program_fields
from pipeline.domain.markup import plain_text
from pipeline.domain.models import IssueState, Item
from pipeline.infra.approval import approval_state
from pipeline.infra.files import atomic_write
from pipeline.infra.instance import check_issue_file
from pipeline.infra.store import Store

FIRST_WINDOW_DAYS = 45  # candidates for the very first issue, when no issue was sent before
EVENT_LOOKBACK_DAYS = 180  # events announced up to this long ago are still candidates until they start
SUMMARY_PREVIEW = 160  # characters of summary in an entry's comment


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

    A new draft takes the items published since the last sent issue (or ``since``), with
    ``status: draft`` and the ``drafted`` time. A refresh appends, as runners-up, the candidates that
    arrived after the last draft and are not in the file yet, and sets ``drafted``; every other byte
    of the file stays as the editor left it. Refused (``DraftRefused``) for an issue that went to the
    list, a file that exists (without ``refresh``), and a refresh of an issue that is no longer a
    draft (approved, changed since, being sent, scheduled or sent; a recalled one is a draft again).
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
        text = set_program_fields(text, shown, status="draft", drafted=local_time(config, now))
        atomic_write(path, text)
    return Draft(path, len(ranked), unplaced)


def local_time(config: Config, when: dt.datetime) -> dt.datetime:
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
    atomic_write(path, set_program_fields(text, shown, drafted=local_time(config, now)))
