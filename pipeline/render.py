"""Render: an issue and its items in, the email (HTML and text) and the web page out.

The order is fixed and written down here: build the view (plain typed values, every rule about
what may be shown applied in Python), then let the templates lay it out: ``email.mjml``
(Jinja2 producing MJML, compiled by mjml-python), ``email.txt`` and ``web.html``. Templates are
looked up in the instance's ``templates/`` first, then in the package's defaults, so a designer
overrides one file without touching Python (see docs/templates.md).

``render_issue`` is pure: no database, no clock, no files. ``prepare`` is the stage's entry
point: it reads what the issue needs from the state database, renders it and computes the
approval fingerprint, once, for render, deliver, cron and the studio alike. ``write_build``
writes the editors' preview; ``build`` does both for ``newsletter render``.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mjml import mjml2html

from pipeline.domain import dutch
from pipeline.domain.archive import event_calendar_url
from pipeline.domain.bulk import GMAIL_CLIP_BYTES, GMAIL_WARN_BYTES  # noqa: F401  ('newsletter render' warns)
from pipeline.domain.config import Config, Logo
from pipeline.domain.editions import (
    BASE,
    Choice,
    Part,
    arrange,
    effective,
    from_key,
    issue_tags,
    personalised,
)
from pipeline.domain.errors import InputInvalid, PipelineError, Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.issues import Entry, Issue, Prepared
from pipeline.domain.markup import markdown_to_html, plain_title, text_of_clean_html
from pipeline.domain.models import Image, Item, Rendered
from pipeline.domain.tokens import TOKEN_NAME, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE, Recipient, personalise
from pipeline.infra.approval import fingerprint, issue_items
from pipeline.infra.files import atomic_write
from pipeline.infra.store import SentIssue, Store, has_state
from pipeline.infra.templating import TemplateError, environment, render_template

BUILD_FILES = {"html": "email.html", "text": "email.txt", "web_html": "web.html"}
NEW_PARTNER_DAYS = 62  # without a previous issue: partners who joined in about the last two months

# The tokens contain "<" and "%": Jinja would escape them and MRML might parse them. Templates
# use these inert stand-ins, swapped for the real tokens in the compiled HTML and the text.
_STANDINS = {
    "nl-token-name": TOKEN_NAME,
    "https://nl-token.invalid/unsubscribe": TOKEN_UNSUBSCRIBE,
    "https://nl-token.invalid/preferences": TOKEN_PREFERENCES,
}


class MjmlError(PipelineError):
    "The MJML a template produced could not be compiled; the message shows the MJML lines around it."


# -- the view: what the templates receive -------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One entry as the templates show it: every rule (overrides, image consent) already applied."""

    id: str | None
    section: str
    title: str  # plain text; the templates escape it
    url: str
    summary_html: str  # sanitised
    summary_text: str
    source: str | None  # the partner's or source's name
    kind: str | None
    kind_title: str | None
    image: Image | None  # only with consent and alt text
    when: str | None  # Dutch date and time, for events
    location: str | None
    ervaringsdeskundigen: bool = False
    themes: tuple[str, ...] = ()  # theme titles
    calendar: str | None = None  # an event's .ics in the archive ("zet in je agenda"), once published


@dataclass(frozen=True)
class Block:
    """A section of the issue with the stories it shows (the featured one excluded)."""

    id: str
    title: str
    description: str | None
    stories: tuple[Story, ...]
    is_agenda: bool = False
    # An edition (pipeline.domain.editions): ``stories`` are the reader's own, ``more`` the rest,
    # folded under "Meer uit het land" (empty with 'rest: omit', and in the issue as it is).
    more: tuple[Story, ...] = ()
    personalised: bool = False


@dataclass(frozen=True)
class NewPartner:
    name: str
    sector: str
    province: str
    website: str | None
    joined: dt.date


@dataclass(frozen=True)
class View:
    """Everything the three templates show. Personal parts are stand-ins (see ``_STANDINS``)."""

    issue_id: str
    newsletter: str
    subject: str
    preheader: str
    date: dt.date | None  # None: no send_at and an id that names no month
    date_text: str  # "donderdag 10 december 2026", or ""
    intro_html: str
    intro_text: str
    featured: Story | None
    featured_title: str  # the featured section's title ("Uitgelicht")
    sections: tuple[Block, ...]
    new_partners: tuple[NewPartner, ...]
    postal_address: str
    reply_to: str | None
    archive_url: str
    web_url: str  # this issue in the archive ("view in browser")
    token_name: str = "nl-token-name"
    unsubscribe_url: str = "https://nl-token.invalid/unsubscribe"
    preferences_url: str = "https://nl-token.invalid/preferences"
    logo: Logo | None = None  # newsletter.logo: the image above the title in the header


def issue_date(issue: Issue, tz: dt.tzinfo) -> dt.date | None:
    """The date the issue goes out: ``send_at``, else the first of the month its id names (2026-12)."""
    if issue.send_at is not None:
        return issue.send_at.astimezone(tz).date()
    m = re.match(r"^(\d{4})-(\d{2})\b", issue.id)
    if m and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    return None


def _shown_image(image: Image | None) -> Image | None:
    return image if image is not None and image.shown else None


# Images inside a feed's summary carry no consent and often no alt text: never shown.
_IMG = re.compile(r"<img\b[^>]*>", re.I)


def _story(config: Config, section: str, entry: Entry, item: Item | None, tag: Callable[[str], str]) -> Story:
    tz = config.settings.timezone
    tax = config.taxonomy
    if entry.summary is not None:
        summary_html = markdown_to_html(entry.summary)
    elif item is not None:
        summary_html = _IMG.sub("", item.summary_html)
    else:
        summary_html = ""
    partner_id = entry.partner or (item.partner if item else None)
    source = None
    if partner_id and partner_id in config.partners:
        source = config.partners[partner_id].name
    elif item is not None and item.source in config.sources:
        source = config.sources[item.source].name
    kind = item.kind if item else None
    when = location = None
    if item is not None and item.starts is not None:
        when = dutch.span(item.starts, item.ends, tz)
        location = item.location
    return Story(
        id=item.id if item else None,
        section=section,
        title=plain_title(entry.title) if entry.title else (item.title if item else ""),
        url=entry.url or (item.url if item else ""),
        summary_html=summary_html,
        summary_text=fragment_text(summary_html, tag),  # links kept, unlike item.summary_text
        source=source,
        kind=kind,
        kind_title=tax.kinds.title(kind),
        image=_shown_image(entry.image or (item.image if item else None)),
        when=when,
        location=location,
        ervaringsdeskundigen=bool(item and item.ervaringsdeskundigen),
        themes=tax.themes.titles(item.themes if item else ()),
        calendar=event_calendar_url(config.settings.archive_url, item.id) if when and item else None,
    )


def new_partners(config: Config, on: dt.date | None, previous: dt.date | None) -> tuple[NewPartner, ...]:
    """Partners who joined after the previous issue (or in the last 62 days), up to the issue's date."""
    if on is None:
        return ()
    since = previous if previous is not None else on - dt.timedelta(days=NEW_PARTNER_DAYS)
    tax = config.taxonomy
    found = [
        NewPartner(
            p.name,
            tax.sectors.title(p.sector, p.sector) or p.sector,
            tax.provinces.title(p.province, p.province) or p.province,
            p.website,
            p.joined,
        )
        for p in config.partners.values()
        if p.joined is not None and since < p.joined <= on
    ]
    return tuple(sorted(found, key=lambda p: (p.joined, p.name)))


def all_stories(config: Config, issue: Issue, items: Mapping[str, Item]) -> dict[str, list[Story]]:
    """Every entry as the templates show it, by section (once for all editions of an issue)."""

    def tag(url: str) -> str:
        return add_utm(url, config.settings.utm, issue.id)

    return {
        section.id: [
            _story(config, section.id, e, items.get(e.item) if e.item else None, tag) for e in section.items
        ]
        for section in issue.sections
    }


def _blocks(
    config: Config, issue: Issue, stories: Mapping[str, list[Story]], parts: Mapping[str, Part] | None
) -> tuple[Story | None, str, tuple[Block, ...]]:
    """(the featured story, its section's title, the other sections), each section as ``parts``
    arranges it for one edition (None: the issue as it is)."""
    featured: Story | None = None
    featured_title = ""
    blocks = []
    for section in issue.sections:
        term = config.taxonomy.sections.get(section.id)
        shown = list(stories[section.id])
        more: list[Story] = []
        part = parts.get(section.id) if parts is not None else None
        if part is not None and part.personalised:
            shown, more = [shown[i] for i in part.own], [shown[i] for i in part.more]
        if term is not None and term.featured and shown and featured is None:
            featured, shown = shown[0], shown[1:]
            featured_title = term.title
        if shown or more:
            blocks.append(
                Block(
                    section.id,
                    term.title if term else section.id,
                    term.description if term else None,
                    tuple(shown),
                    is_agenda=bool(term and term.is_agenda),
                    more=tuple(more),
                    personalised=bool(part and part.personalised),
                )
            )
    return featured, featured_title, tuple(blocks)


def build_view(
    config: Config,
    issue: Issue,
    items: Mapping[str, Item],
    previous_issue_date: dt.date | dt.datetime | None = None,
    *,
    choice: Choice | None = None,
    stories: Mapping[str, list[Story]] | None = None,
) -> View:
    """The issue as the templates see it (for a reader with ``choice``: her edition); an entry whose
    item is missing is an error with its line."""
    s = config.settings
    missing = [
        Problem(issue.path, e.line, _(
            "item '{item}' is not in the state database; run 'newsletter collect', or remove the entry"
            " (or give it title, summary and url)").format(item=e.item))
        for _section, e in issue.entries() if e.item and e.item not in items
    ]  # fmt: skip
    if missing:
        raise InputInvalid(missing)
    previous: dt.date | None = previous_issue_date
    if isinstance(previous_issue_date, dt.datetime):
        p = previous_issue_date
        previous = p.astimezone(s.timezone).date() if p.tzinfo else p.date()
    on = issue_date(issue, s.timezone)

    def tag(url: str) -> str:
        return add_utm(url, s.utm, issue.id)

    stories = stories or all_stories(config, issue, items)
    parts = arrange(issue, issue_tags(config, issue, items), choice) if choice is not None else None
    featured, featured_title, blocks = _blocks(config, issue, stories, parts)
    intro_html = markdown_to_html(issue.intro or "")
    newsletter = s.title
    date_text = dutch.date(on) if on else ""
    return View(
        issue_id=issue.id,
        newsletter=newsletter,
        subject=issue.subject or (f"{newsletter}, {dutch.month(on)}" if on else newsletter),
        preheader=issue.preheader or "",
        date=on,
        date_text=date_text,
        intro_html=intro_html,
        intro_text=fragment_text(intro_html, tag),
        featured=featured,
        featured_title=featured_title,
        sections=blocks,
        new_partners=new_partners(config, on, previous),
        postal_address=s.postal_address,
        reply_to=s.reply_to,
        archive_url=s.archive_url,
        web_url=s.issue_url(issue.id),
        logo=s.logo,
    )


# -- links ---------------------------------------------------------------------------------------


def add_utm(url: str, utm: Mapping[str, str], issue_id: str) -> str:
    """``url`` with the settings' utm_* parameters, for outbound http(s) links that carry none yet."""
    if not utm:
        return url
    return _add_utm(url, tuple(utm.items()), issue_id)


@functools.lru_cache(maxsize=4096)  # the same links again in every edition of an issue
def _add_utm(url: str, utm: tuple[tuple[str, str], ...], issue_id: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc.endswith("nl-token.invalid"):
        return url
    if any(k.lower().startswith("utm_") for k, _value in parse_qsl(parts.query, keep_blank_values=True)):
        return url  # the partner tagged it themselves; theirs wins
    # Appended, not re-encoded: the partner's own query stays exactly as they wrote it.
    ours = urlencode([(f"utm_{k}", v.replace("{issue}", issue_id)) for k, v in utm if v])
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit(parts._replace(query=query))


_HREF = re.compile(r'href="([^"]*)"')


def _tag_links(markup: str, utm: Mapping[str, str], issue_id: str) -> str:
    """UTM on every outbound link of compiled HTML (the templates' own and those inside summaries)."""

    def one(m: re.Match[str]) -> str:
        url = add_utm(html.unescape(m.group(1)), utm, issue_id)
        return f'href="{html.escape(url, quote=True)}"'

    return _HREF.sub(one, markup)


_LINK = re.compile(r'<a\b[^>]*\bhref="([^"]*)"[^>]*>(.*?)</a>', re.S | re.I)
_PARA_END = re.compile(r"</(p|h\d|blockquote|pre|ul|ol)>", re.I)
_ITEM = re.compile(r"<li\b[^>]*>", re.I)
_BREAK = re.compile(r"<br\s*/?>", re.I)


def fragment_text(fragment: str, tag: Callable[[str], str] = str) -> str:
    """Sanitised HTML as readable text: paragraphs kept, list items as "- ", links as "text (url)".

    ``tag`` rewrites each link (the email adds UTM parameters).
    """
    if not fragment:
        return ""

    def link(m: re.Match[str]) -> str:
        url, text = tag(html.unescape(m.group(1))), text_of_clean_html(m.group(2))
        shown = url.removeprefix("mailto:")
        return shown if text in (url, shown, "") else f"{text} ({shown})"

    # Newlines in HTML are spaces; only the elements below break lines.
    text = _LINK.sub(lambda m: html.escape(link(m), quote=False), fragment.replace("\n", " "))
    text = _PARA_END.sub("\n\n", text)
    text = _ITEM.sub("\n- ", text)
    text = _BREAK.sub("\n", text)
    paragraphs = []
    for block in text.split("\n\n"):
        lines = []
        for line in block.split("\n"):
            bullet = line.strip().startswith("- ")
            words = text_of_clean_html(line.strip()[2:] if bullet else line)
            if words:
                lines.append(f"- {words}" if bullet else words)
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


# -- templates -----------------------------------------------------------------------------------


# -- MJML ----------------------------------------------------------------------------------------

_MJ_TAG = re.compile(r"<(/?)(mj-[a-z-]+|mjml)\b([^>]*?)(/?)>")
_MJ_ATTRS = re.compile(r'(?:\s+[A-Za-z][\w:-]*\s*=\s*"[^"]*")*\s*')
MJ_ELEMENTS = frozenset({
    "mjml", "mj-head", "mj-body", "mj-attributes", "mj-all", "mj-class", "mj-breakpoint", "mj-font",
    "mj-preview", "mj-style", "mj-title", "mj-include", "mj-raw", "mj-section", "mj-column", "mj-group",
    "mj-wrapper", "mj-hero", "mj-text", "mj-image", "mj-button", "mj-divider", "mj-spacer", "mj-table",
    "mj-social", "mj-social-element", "mj-navbar", "mj-navbar-link", "mj-accordion",
    "mj-accordion-element", "mj-accordion-title", "mj-accordion-text", "mj-carousel", "mj-carousel-image",
})  # fmt: skip


def _mjml_excerpt(mjml: str, line: int, context: int = 3) -> str:
    lines = mjml.splitlines()
    lo, hi = max(1, line - context), min(len(lines), line + context)
    return "\n".join(f"{'>' if n == line else ' '} {n:4d} | {lines[n - 1]}" for n in range(lo, hi + 1))


def _mjml_structure(mjml: str) -> tuple[int, str] | None:
    """The first unknown, unbalanced or badly written MJML tag, as (line, message); MRML itself
    passes unknown tags through into the HTML, or fails without saying where."""
    stack: list[tuple[str, int]] = []
    line, counted = 1, 0
    for m in _MJ_TAG.finditer(mjml):
        closing, name, attrs, selfclosing = m.groups()
        line += mjml.count("\n", counted, m.start())
        counted = m.start()
        if name not in MJ_ELEMENTS:
            return line, _("unknown MJML element <{name}>").format(name=name)
        if not _MJ_ATTRS.fullmatch(attrs):
            return line, _('<{name}> has a badly written attribute (write them as name="value")').format(
                name=name
            )
        if selfclosing:
            continue
        if not closing:
            stack.append((name, line))
        elif not stack:
            return line, _("</{name}> does not close anything open here (nothing open)").format(name=name)
        elif stack[-1][0] != name:
            return line, _(
                "</{name}> does not close anything open here (<{opened}> opened on line {line})"
            ).format(name=name, opened=stack[-1][0], line=stack[-1][1])
        else:
            stack.pop()
    if stack:
        return stack[-1][1], _("<{name}> is never closed").format(name=stack[-1][0])
    return None


# MRML hides <mj-preview> (the preheader) in white text: on a page that is not white, SpamAssassin
# scores that as text in nearly the background's colour (HTML_FONT_LOW_CONTRAST), display:none or
# not. The same div, hidden without a colour of its own (mso-hide: Outlook's Word engine).
_MRML_PREVIEW = (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;'
    'opacity:0;overflow:hidden;">'
)
_PREVIEW = (
    '<div style="display:none;font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0;'
    'overflow:hidden;mso-hide:all;">'
)


def compile_mjml(mjml: str, template: str = "email.mjml") -> str:
    """MJML to HTML with mjml-python; an error shows the MJML lines around the problem."""
    problem = _mjml_structure(mjml)
    if problem is None:
        try:
            out: str = mjml2html(mjml)
        except Exception as e:  # MRML raises ValueError with a message but no position
            raise MjmlError(
                _("MJML from {template} could not be compiled: {error}").format(template=template, error=e),
                _("check the MJML structure in the template (each mj- element closed, attributes quoted)"),
            ) from None
        if "<mj-" not in out:
            return out.replace(_MRML_PREVIEW, _PREVIEW, 1)
        line = mjml.count("\n", 0, mjml.find("<mj-", mjml.find("<mj-body"))) + 1
        problem = (line, _("MJML element left uncompiled"))
    line, message = problem
    raise MjmlError(
        _("MJML from {template}, line {line}: {problem}").format(
            template=template, line=line, problem=message
        )
        + f"\n{_mjml_excerpt(mjml, line)}",
        _(
            "fix the element in {template} (the line is of the generated MJML; the template's is near it)"
        ).format(template=template),
    )


# -- the entry point -----------------------------------------------------------------------------


def _personal(text: str) -> str:
    for standin, token in _STANDINS.items():
        text = text.replace(standin, token)
    return text


def email_mjml(config: Config, view: View) -> str:
    """The email as MJML, before compiling (for the benchmark and for debugging a template)."""
    env = environment(config.root / "templates")
    return render_template(env, "email.mjml", config.root, v=view, email=True)


def render_issue(
    config: Config,
    issue: Issue,
    items: Mapping[str, Item],
    *,
    previous_issue_date: dt.date | dt.datetime | None = None,
    choice: Choice | None = None,
) -> Rendered:
    """The issue rendered: email HTML and text (with the TOKEN_* placeholders) and the web page.

    ``items`` holds every item the issue refers to; ``previous_issue_date`` (the last issue sent)
    decides which partners are new. With ``choice``, the email of that reader's edition (the web
    page is always the whole issue: the archive shows it as it is).
    """
    view = build_view(config, issue, items, previous_issue_date, choice=choice)
    web_view = view if choice is None else build_view(config, issue, items, previous_issue_date)
    return _render_view(config, issue, view, _web_page(config, web_view))


def _web_page(config: Config, view: View) -> str:
    env = environment(config.root / "templates")
    web = render_template(env, "web.html", config.root, v=view, email=False)
    if any(s in web for s in _STANDINS):
        raise TemplateError(
            _("web.html shows a per-recipient part (name, unsubscribe or preferences link)"),
            _("the web page is public: remove v.token_name, v.unsubscribe_url and v.preferences_url from it"),
        )
    return web


def _render_view(config: Config, issue: Issue, view: View, web: str) -> Rendered:
    env = environment(config.root / "templates")
    utm = config.settings.utm
    mjml = email_mjml(config, view)
    source = env.get_template("email.mjml").filename or "email.mjml"  # the instance's or the package's
    email_html = _personal(_tag_links(compile_mjml(mjml, display_path(source, config.root)), utm, issue.id))
    text = render_template(
        env, "email.txt", config.root, v=view, email=True, link=lambda url: add_utm(url, utm, issue.id)
    )
    return Rendered(issue.id, view.subject, view.preheader, email_html, _personal(text), web)


def render_editions(
    config: Config,
    issue: Issue,
    items: Mapping[str, Item],
    keys: Iterable[str],
    *,
    previous_issue_date: dt.date | dt.datetime | None = None,
    base: Rendered | None = None,
) -> dict[str, Rendered]:
    """The email of each edition named in ``keys`` (``pipeline.domain.editions``; ``BASE`` is the
    issue as it is), rendered once each; every edition carries the whole issue's web page."""
    whole = base or render_issue(config, issue, items, previous_issue_date=previous_issue_date)
    out = {BASE: whole}
    stories = all_stories(config, issue, items)
    for key in sorted(set(keys) - {BASE}):
        view = build_view(config, issue, items, previous_issue_date, choice=from_key(key), stories=stories)
        out[key] = _render_view(config, issue, view, whole.web_html)
    return out


def write_build(config: Config, rendered: Rendered) -> list[Path]:
    """Write ``build/<id>/email.html``, ``email.txt`` and ``web.html`` atomically; return their paths.

    The build folder is the editors' preview, so the per-recipient tokens are filled the way a test
    send fills them ("Beste lezer,", a working unsubscribe link); what is sent keeps the tokens.
    """
    folder = config.root / "build" / rendered.issue_id
    paths = []
    for attribute, name in BUILD_FILES.items():
        path = folder / name
        text = personalise(getattr(rendered, attribute), Recipient(""), config.settings, rendered.issue_id)
        atomic_write(path, text)
        paths.append(path)
    return paths


def previous_sent_date(sent: Sequence[SentIssue], issue: Issue, tz: dt.tzinfo) -> dt.date | None:
    """The date the last issue before this one went out (it decides which partners are new)."""
    on = issue_date(issue, tz)
    dates = [row.sent_at.astimezone(tz).date() for row in sent if row.id != issue.id]
    dates = [d for d in dates if on is None or d <= on]
    return max(dates) if dates else None


def prepare(config: Config, store: Store | None, issue: Issue) -> Prepared:
    """The issue made ready for everything after it: its items, the previous issue's date, the
    rendered email and page, the approval fingerprint and the placements, each computed once.

    ``store`` may be None before anything was collected: a hand-written issue still renders, and
    a reference to an item fails with its line.
    """
    items = issue_items(store, issue) if store is not None else {}
    tz = config.settings.timezone
    previous = previous_sent_date(store.sent_issues(), issue, tz) if store is not None else None
    rendered = render_issue(config, issue, items, previous_issue_date=previous)

    def editions(keys: Iterable[str]) -> Mapping[str, Rendered]:
        return render_editions(config, issue, items, keys, previous_issue_date=previous, base=rendered)

    return Prepared(
        issue, items, previous, rendered, fingerprint(config, issue, items), issue.placements(),
        editions if personalised(issue) else None,
    )  # fmt: skip


def edition_folder(key: str) -> str:
    """The build folder of an edition's preview: ``als-overijssel-onderwijs`` (``als-iedereen``)."""
    values = [v for part in key.split(";") for v in part.partition("=")[2].split(",") if v]
    return "als-" + ("-".join(values) or "iedereen")


def write_edition(config: Config, prepared: Prepared, choice: Choice) -> tuple[str, list[Path]]:
    """The editors' preview of one reader's edition (``newsletter check --as``): the email and its
    text of the edition that ``choice`` gets, in ``build/<id>/als-.../``. Returns the edition's key
    (``BASE`` when the choice changes nothing in this issue) and the files."""
    issue = prepared.issue
    key = effective(issue, issue_tags(config, issue, prepared.items), choice).key
    rendered = (
        prepared.editions([key])[key] if prepared.editions is not None and key != BASE else prepared.rendered
    )
    folder = config.root / "build" / issue.id / edition_folder(key)
    paths = []
    for attribute, name in (("html", "email.html"), ("text", "email.txt")):
        path = folder / name
        text = personalise(getattr(rendered, attribute), Recipient(""), config.settings, issue.id)
        atomic_write(path, text)
        paths.append(path)
    return key, paths


def build(config: Config, issue: Issue) -> tuple[Prepared, list[Path]]:
    """``newsletter render``: prepare the issue from the state database and write the build files."""
    if has_state(config.settings):
        with Store(config.settings.database) as store:
            prepared = prepare(config, store, issue)
    else:
        prepared = prepare(config, None, issue)
    return prepared, write_build(config, prepared.rendered)
