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

The package: ``view`` (what the templates receive), ``text`` (links and the text part), ``mjml``
(compiling the email); this module is the stage's entry, which every importer uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pipeline.domain.bulk import GMAIL_CLIP_BYTES, GMAIL_WARN_BYTES  # ('newsletter render' warns)
from pipeline.domain.config import Config
from pipeline.domain.editions import BASE, Choice, effective, from_key, issue_tags, personalised
from pipeline.domain.errors import display_path
from pipeline.domain.i18n import _
from pipeline.domain.issues import Issue, Prepared
from pipeline.domain.models import Item, Rendered
from pipeline.domain.tokens import TOKEN_NAME, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE, Recipient, personalise
from pipeline.infra.approval import fingerprint, issue_items
from pipeline.infra.files import atomic_write
from pipeline.infra.store import SentIssue, Store, has_state
from pipeline.infra.templating import TemplateError, environment, render_template
from pipeline.render.mjml import MJ_ELEMENTS, MjmlError, compile_mjml
from pipeline.render.text import add_utm, fragment_text, tag_links
from pipeline.render.view import (
    NEW_PARTNER_DAYS,
    Block,
    NewPartner,
    Story,
    View,
    all_stories,
    build_view,
    issue_date,
    new_partners,
)

BUILD_FILES = {"html": "email.html", "text": "email.txt", "web_html": "web.html"}

# The tokens contain "<" and "%": Jinja would escape them and MRML might parse them. Templates
# use these inert stand-ins, swapped for the real tokens in the compiled HTML and the text.
_STANDINS = {
    "nl-token-name": TOKEN_NAME,
    "https://nl-token.invalid/unsubscribe": TOKEN_UNSUBSCRIBE,
    "https://nl-token.invalid/preferences": TOKEN_PREFERENCES,
}


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
    email_html = _personal(tag_links(compile_mjml(mjml, display_path(source, config.root)), utm, issue.id))
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
    return _write_preview(config, config.root / "build" / rendered.issue_id, rendered, BUILD_FILES.items())


def _write_preview(
    config: Config, folder: Path, rendered: Rendered, files: Iterable[tuple[str, str]]
) -> list[Path]:
    """The parts of ``rendered`` named in ``files`` (attribute, file name), each written atomically
    into ``folder`` with the per-recipient tokens filled as a test send fills them."""
    paths = []
    for attribute, name in files:
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
    return key, _write_preview(config, folder, rendered, (("html", "email.html"), ("text", "email.txt")))


def build(config: Config, issue: Issue) -> tuple[Prepared, list[Path]]:
    """``newsletter render``: prepare the issue from the state database and write the build files."""
    if has_state(config.settings):
        with Store(config.settings.database) as store:
            prepared = prepare(config, store, issue)
    else:
        prepared = prepare(config, None, issue)
    return prepared, write_build(config, prepared.rendered)


__all__ = [
    "BUILD_FILES", "GMAIL_CLIP_BYTES", "GMAIL_WARN_BYTES", "MJ_ELEMENTS", "NEW_PARTNER_DAYS", "Block",
    "MjmlError", "NewPartner", "Story", "View", "add_utm", "all_stories", "build", "build_view",
    "compile_mjml", "edition_folder", "email_mjml", "fragment_text", "issue_date", "new_partners",
    "prepare", "previous_sent_date", "render_editions", "render_issue", "write_build", "write_edition",
]  # fmt: skip
