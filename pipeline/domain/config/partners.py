"""The partners, the other feeds and the submission sources of ``sources.yaml``: their values and the
checks that read them (``read_partners``, ``read_sources``, ``read_submissions``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.domain.config.taxonomy import Taxonomy
from pipeline.domain.i18n import _
from pipeline.domain.models import Contact
from pipeline.domain.schema import Checker, listing
from pipeline.domain.yamldoc import KeyPath

PLEDGE_MAX = 400  # a pledge is a sentence or two, not a plan

# The kind of an item whose feed says none, by who publishes the feed: a partner's feed tells
# partner stories, another source's (a research institute's) research. Used when the taxonomy has
# that kind; otherwise validate asks for 'kind:' on the feed. Not a setting of sources.yaml.
FEED_KIND = {"partner": "story", "source": "research"}


@dataclass(frozen=True)
class FeedSource:
    """One feed to collect: a partner's feed or another source's (research, policy)."""

    id: str
    name: str
    url: str  # http(s) address, or a local path resolved against the instance root
    partner: str | None
    kind: str | None
    themes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class Pledge:
    """What a partner committed to when it joined: the yardstick its yearly progress is read against."""

    text: str
    themes: tuple[str, ...] = ()  # the themes (and through them the opgaven) it is about
    horizon: str | None = None  # verzachten, versterken or veranderen
    since: dt.date | None = None  # None: expected to report for every period

    def expects(self, last_day: dt.date) -> bool:
        """Whether the partner is asked to report for a period that ends on ``last_day``."""
        return self.since is None or self.since <= last_day


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    sector: str
    province: str
    website: str | None = None
    feeds: tuple[FeedSource, ...] = ()
    joined: dt.date | None = None
    priority: int = 0
    pledge: Pledge | None = None
    # Who gets the progress reminder. Never published, rendered or put in the report: only
    # 'newsletter monitor remind' reads it, and it never prints it.
    monitoring_contact: Contact | None = field(default=None, repr=False)
    # Who may sign in to the partner portal (``/partners/``) for this partner, besides the
    # monitoring contact. Never published, like the monitoring contact.
    contacts: tuple[str, ...] = field(default=(), repr=False)

    def portal_addresses(self) -> tuple[str, ...]:
        """The addresses that may sign in for this partner (lower case): ``contacts`` and the
        monitoring contact's."""
        found = [*self.contacts]
        if self.monitoring_contact and self.monitoring_contact.email:
            found.append(self.monitoring_contact.email)
        return tuple(dict.fromkeys(a.strip().lower() for a in found))


SUBMISSIONS = "submissions"


def submission_source(partner: str | None) -> str:
    """The source id of a partner's YAML submissions (``--source submissions:gemeente-zwolle``)."""
    return f"{SUBMISSIONS}:{partner}"


@dataclass(frozen=True)
class SubmissionSource:
    """Where YAML submissions come from: a local folder, or a URL that serves one partner's YAML."""

    path: Path | None = None
    url: str | None = None
    partner: str | None = None

    @property
    def id(self) -> str:
        return submission_source(self.partner if self.url else str(self.path))


def _feed(
    c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy, owner: dict[str, Any], fid: str
) -> FeedSource | None:
    f = c.mapping(kp, raw, ("url", "kind", "themes", "provinces", "priority"), ("url",), _("each feed"))
    if not f:
        return None
    url = c.url((*kp, "url"), f.get("url"), local_ok=True)
    kind = c.ref((*kp, "kind"), f["kind"], tax.kinds, "kind") if f.get("kind") else None
    if not f.get("kind"):
        publisher = "partner" if owner.get("partner") else "source"
        default = FEED_KIND[publisher]
        kind = default if default in tax.kinds else None
        if kind is None:
            message = _(
                "this feed has no 'kind', and the taxonomy has no '{default}' to use instead; its items go "
                "only into sections that take every kind: add 'kind: ID' (one of {known})"
            )
            c.warn(kp, message.format(default=default, known=listing(tax.kinds)))
    themes = c.refs((*kp, "themes"), f.get("themes"), tax.themes, "theme")
    provinces = c.refs((*kp, "provinces"), f.get("provinces"), tax.provinces, "province")
    priority = c.integer((*kp, "priority"), f.get("priority", owner.get("priority", 0))) or 0
    if not url:
        return None
    return FeedSource(
        fid, str(owner.get("name") or fid), url, owner.get("partner"), kind, themes, provinces, priority
    )


def _date(c: Checker, kp: KeyPath, value: Any) -> dt.date | None:
    """A day such as 2026-03-01 (a date and time is taken as its day)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    c.error(kp, _("'{key}' should be a date like 2026-03-01, not {value!r}").format(key=kp[-1], value=value))
    return None


def horizon_ref(c: Checker, kp: KeyPath, raw: Mapping[str, Any], tax: Taxonomy) -> str | None:
    """The optional 'horizon' of a mapping at ``kp``: a horizon of the taxonomy, or an error when the
    taxonomy has no horizons (and then None)."""
    if raw.get("horizon") is None:
        return None
    if tax.horizons:
        return c.ref((*kp, "horizon"), raw["horizon"], tax.horizons, "horizon")
    c.error((*kp, "horizon"), _("this newsletter has no 'horizons' in its taxonomy; remove 'horizon'"))
    return None


def _pledge(c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy) -> Pledge | None:
    p = c.mapping(kp, raw, ("text", "themes", "horizon", "since"), ("text",), "'pledge'")
    if not p:
        return None
    text = c.text((*kp, "text"), p.get("text"), max_len=PLEDGE_MAX)
    themes = c.refs((*kp, "themes"), p.get("themes"), tax.themes, "theme")
    horizon = horizon_ref(c, kp, p, tax)
    since = _date(c, (*kp, "since"), p.get("since"))
    return Pledge(text, themes, horizon, since) if text else None


def _contact(c: Checker, kp: KeyPath, raw: Any) -> Contact | None:
    m = c.mapping(kp, raw, ("name", "email"), ("email",), "'monitoring_contact'")
    if not m:
        return None
    email = c.email((*kp, "email"), m.get("email"))
    return Contact(c.text((*kp, "name"), m.get("name")), email) if email else None


def read_partners(c: Checker, raw: Any, tax: Taxonomy) -> dict[str, Partner]:
    partners: dict[str, Partner] = {}
    allowed = (
        "id", "name", "sector", "province", "website", "feeds", "joined", "priority", "pledge",
        "monitoring_contact", "contacts",
    )  # fmt: skip
    for i, entry in enumerate(c.seq(("partners",), raw, "'partners'")):
        kp: KeyPath = ("partners", i)
        p = c.mapping(kp, entry, allowed, ("id", "name", "sector", "province"), _("each partner"))
        if not p:
            continue
        pid = c.ident((*kp, "id"), p.get("id"))
        name = c.text((*kp, "name"), p.get("name"))
        sector = c.ref((*kp, "sector"), p.get("sector"), tax.sectors, "sector")
        province = c.ref((*kp, "province"), p.get("province"), tax.provinces, "province")
        website = c.url((*kp, "website"), p.get("website"))
        joined = _date(c, (*kp, "joined"), p.get("joined"))
        pledge = _pledge(c, (*kp, "pledge"), p["pledge"], tax) if p.get("pledge") is not None else None
        contact = None
        if p.get("monitoring_contact") is not None:
            contact = _contact(c, (*kp, "monitoring_contact"), p["monitoring_contact"])
        priority = c.integer((*kp, "priority"), p.get("priority", 0)) or 0
        contacts = _contacts(c, (*kp, "contacts"), p.get("contacts"))
        feeds = []
        feed_list = c.seq((*kp, "feeds"), p.get("feeds"), "'feeds'")
        for j, f in enumerate(feed_list):
            fid = pid if len(feed_list) == 1 else f"{pid}-{j + 1}"
            owner = {"name": name, "partner": pid, "priority": priority}
            feed = _feed(c, (*kp, "feeds", j), f, tax, owner, fid or "?")
            if feed:
                feeds.append(feed)
        if pid and pid in partners:
            c.error((*kp, "id"), _("partner id '{id}' is used twice; ids must be unique").format(id=pid))
        elif pid and name and sector and province:
            partners[pid] = Partner(
                pid, name, sector, province, website, tuple(feeds), joined, priority, pledge, contact,
                contacts,
            )  # fmt: skip
    _one_partner_per_contact(c, partners)
    return partners


def _one_partner_per_contact(c: Checker, partners: Mapping[str, Partner]) -> None:
    """An address signs in for one partner only: the portal must know whose files it may change."""
    owner: dict[str, str] = {}
    for partner in partners.values():
        for address in partner.portal_addresses():
            other = owner.setdefault(address, partner.id)
            if other != partner.id:
                message = _("'{email}' is a contact of both '{first}' and '{second}'; keep it at one partner")
                c.error(("partners",), message.format(email=address, first=other, second=partner.id))


def _contacts(c: Checker, kp: KeyPath, raw: Any) -> tuple[str, ...]:
    """A partner's ``contacts``: the addresses that may sign in to the partner portal."""
    found = []
    for j, value in enumerate(c.seq(kp, raw, "'contacts'")):
        email = c.email((*kp, j), value)
        if email:
            found.append(email)
    return tuple(found)


def read_sources(
    c: Checker, raw: Any, tax: Taxonomy, partners: Mapping[str, Partner]
) -> dict[str, FeedSource]:
    sources: dict[str, FeedSource] = {}
    allowed = ("id", "name", "url", "kind", "themes", "provinces", "priority", "website")
    for i, entry in enumerate(c.seq(("sources",), raw, "'sources'")):
        kp: KeyPath = ("sources", i)
        s = c.mapping(kp, entry, allowed, ("id", "name", "url"), _("each source"))
        if not s:
            continue
        sid = c.ident((*kp, "id"), s.get("id"))
        c.url((*kp, "website"), s.get("website"))
        feed = _feed(
            c, kp, {k: v for k, v in s.items() if k not in ("id", "name", "website")}, tax, s, sid or "?"
        )
        if sid and (sid in sources or sid in partners):
            message = _("source id '{id}' is already used by a partner or source; pick another")
            c.error((*kp, "id"), message.format(id=sid))
        elif sid and feed:
            sources[sid] = feed
    return sources


def read_submissions(
    c: Checker, raw: Any, root: Path, partners: Mapping[str, Partner]
) -> tuple[SubmissionSource, ...]:
    out = []
    for i, entry in enumerate(c.seq(("submissions",), raw, "'submissions'")):
        kp: KeyPath = ("submissions", i)
        s = c.mapping(kp, entry, ("path", "url", "partner"), (), _("each submissions entry"))
        if not s:
            continue
        if ("path" in s) == ("url" in s):
            c.error(kp, _("give either 'path: FOLDER' (local files) or 'url: ADDRESS' with 'partner: ID'"))
            continue
        if "path" in s:
            path = c.text((*kp, "path"), s["path"])
            if path:
                out.append(SubmissionSource(path=root / path))
        else:
            url = c.url((*kp, "url"), s["url"])
            partner = c.ref((*kp, "partner"), s.get("partner"), partners, "partner")
            if "partner" not in s:
                c.error(kp, _("a remote submission URL needs 'partner: ID' (whose stories it serves)"))
            if url and partner:
                out.append(SubmissionSource(url=url, partner=partner))
    return tuple(out)
