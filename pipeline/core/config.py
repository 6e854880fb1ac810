"""The instance's settings: ``sources.yaml`` read, checked once, and turned into typed values.

Defaults live in one table (``DEFAULTS``); a bad value gets a problem naming its line and the
fix. Every later stage receives a ``Config``, never the raw YAML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.core.errors import InputInvalid, Problem, display_path
from pipeline.core.schema import Checker
from pipeline.core.yamlfile import KeyPath, load

CONFIG_FILE = "sources.yaml"

DEFAULTS: dict[str, Any] = {
    "language": "nl",
    "timezone": "Europe/Amsterdam",
    "subscribers": "subscribers.csv",
    "state": "state/newsletter.sqlite3",
    "sendgrid": {"region": "global", "unsubscribe_group": None, "categories": []},
    "utm": {},
    "coverage": {"essential_sectors": [], "essential_themes": [], "max_share": 0.5},
    "report": {"silent_months": 6},
    # Limits that keep one slow or huge source from holding up a run.
    "collect": {"timeout": 20, "max_bytes": 10_000_000, "concurrency": 64, "per_host": 4, "retries": 2},
}

TAXONOMY_LISTS: dict[str, tuple[str, ...]] = {
    # list name -> extra keys allowed on each term, besides id and title
    "sections": ("description", "kinds", "limit", "featured"),
    "themes": ("description", "keywords", "opgave"),
    "sectors": ("description",),
    "provinces": ("description",),
    "kinds": ("description",),
    "horizons": ("description",),
}
REQUIRED_LISTS = ("sections", "themes", "sectors", "provinces", "kinds")
PROVINCES = (
    "groningen", "friesland", "drenthe", "overijssel", "flevoland", "gelderland", "utrecht",
    "noord-holland", "zuid-holland", "zeeland", "noord-brabant", "limburg",
)  # fmt: skip
NATIONWIDE = "landelijk"


@dataclass(frozen=True)
class Term:
    """One entry of a taxonomy list (a section, theme, sector, province, kind or horizon)."""

    id: str
    title: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Taxonomy:
    sections: Mapping[str, Term]
    themes: Mapping[str, Term]
    sectors: Mapping[str, Term]
    provinces: Mapping[str, Term]
    kinds: Mapping[str, Term]
    horizons: Mapping[str, Term]


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
class Partner:
    id: str
    name: str
    sector: str
    province: str
    website: str | None = None
    feeds: tuple[FeedSource, ...] = ()
    joined: dt.date | None = None
    priority: int = 0


@dataclass(frozen=True)
class SubmissionSource:
    """Where YAML submissions come from: a local folder, or a URL that serves one partner's YAML."""

    path: Path | None = None
    url: str | None = None
    partner: str | None = None

    @property
    def id(self) -> str:
        return f"submissions:{self.partner}" if self.url else f"submissions:{self.path}"


@dataclass(frozen=True)
class Settings:
    title: str
    from_email: str
    from_name: str
    reply_to: str | None
    postal_address: str
    archive_url: str
    language: str
    timezone: ZoneInfo
    sendgrid_region: str
    unsubscribe_group: int | None
    categories: tuple[str, ...]
    utm: Mapping[str, str]
    subscribers: Path
    state: Path
    editors: tuple[str, ...]
    essential_sectors: tuple[str, ...]
    essential_themes: tuple[str, ...]
    max_share: float
    silent_months: int
    collect: Mapping[str, int]

    def issue_url(self, issue_id: str) -> str:
        """An issue's page in the archive: where publish puts it and the email's web link points."""
        return f"{self.archive_url}{issue_id}/"


@dataclass(frozen=True)
class Config:
    root: Path
    settings: Settings
    taxonomy: Taxonomy
    partners: Mapping[str, Partner]
    sources: Mapping[str, FeedSource]
    submissions: tuple[SubmissionSource, ...]
    warnings: tuple[Problem, ...] = ()

    def feeds(self) -> list[FeedSource]:
        """Every feed to collect, partners' first, in the file's order."""
        out = [f for p in self.partners.values() for f in p.feeds]
        out.extend(self.sources.values())
        return out

    def path(self, relative: str | Path) -> Path:
        return (self.root / relative).resolve()


def _taxonomy(c: Checker, raw: Any) -> Taxonomy:
    kp: KeyPath = ("taxonomy",)
    tax = c.mapping(kp, raw, TAXONOMY_LISTS, REQUIRED_LISTS, "'taxonomy'") or {}
    lists: dict[str, dict[str, Term]] = {}
    for name, extras in TAXONOMY_LISTS.items():
        terms: dict[str, Term] = {}
        for i, entry in enumerate(c.seq((*kp, name), tax.get(name), f"'taxonomy.{name}'")):
            ekp = (*kp, name, i)
            e = c.mapping(ekp, entry, ("id", "title", *extras), ("id", "title"), f"each of taxonomy.{name}")
            if not e:
                continue
            tid = c.ident((*ekp, "id"), e.get("id"))
            title = c.text((*ekp, "title"), e.get("title"))
            if tid and tid in terms:
                c.error((*ekp, "id"), f"{name} id '{tid}' is used twice; ids must be unique")
            elif tid and title:
                terms[tid] = Term(tid, title, {k: v for k, v in e.items() if k in extras})
        lists[name] = terms
    if "provinces" in tax and NATIONWIDE not in lists["provinces"]:
        c.error((*kp, "provinces"), f"provinces must include '{NATIONWIDE}' for work that is nationwide")
    for i, entry in enumerate(tax.get("sections") or []):
        if isinstance(entry, dict) and "kinds" in entry:
            c.refs((*kp, "sections", i, "kinds"), entry["kinds"], lists["kinds"], "kind")
        if isinstance(entry, dict) and "limit" in entry:
            c.integer((*kp, "sections", i, "limit"), entry["limit"], minimum=1)
    return Taxonomy(**lists)


def _feed(
    c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy, owner: dict[str, Any], fid: str
) -> FeedSource | None:
    f = c.mapping(kp, raw, ("url", "kind", "themes", "provinces", "priority"), ("url",), "each feed")
    if not f:
        return None
    url = c.url((*kp, "url"), f.get("url"), local_ok=True)
    kind = c.ref((*kp, "kind"), f["kind"], tax.kinds, "kind") if f.get("kind") else None
    themes = c.refs((*kp, "themes"), f.get("themes"), tax.themes, "theme")
    provinces = c.refs((*kp, "provinces"), f.get("provinces"), tax.provinces, "province")
    priority = c.integer((*kp, "priority"), f.get("priority", owner.get("priority", 0))) or 0
    if not url:
        return None
    return FeedSource(
        fid, str(owner.get("name") or fid), url, owner.get("partner"), kind, themes, provinces, priority
    )


def _settings(c: Checker, raw: Any, root: Path, tax: Taxonomy) -> Settings | None:
    kp: KeyPath = ("newsletter",)
    allowed = (
        "title", "from", "reply_to", "postal_address", "archive_url", "language", "timezone", "sendgrid",
        "utm", "subscribers", "state", "editors", "coverage", "report", "collect",
    )  # fmt: skip
    n = c.mapping(kp, raw, allowed, ("title", "from", "postal_address", "archive_url"), "'newsletter'")
    if n is None:
        return None
    title = c.text((*kp, "title"), n.get("title"), max_len=80)
    sender = c.mapping((*kp, "from"), n.get("from"), ("name", "email"), ("email",), "'from'") or {}
    from_email = c.email((*kp, "from", "email"), sender.get("email"))
    from_name = c.text((*kp, "from", "name"), sender.get("name")) or title or ""
    reply_to = c.email((*kp, "reply_to"), n.get("reply_to"))
    address = c.text((*kp, "postal_address"), n.get("postal_address"))
    archive = c.url((*kp, "archive_url"), n.get("archive_url"))
    language = c.text((*kp, "language"), n.get("language", DEFAULTS["language"]))
    tzname = c.text((*kp, "timezone"), n.get("timezone", DEFAULTS["timezone"])) or DEFAULTS["timezone"]
    try:
        tz = ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        c.error((*kp, "timezone"), f"unknown time zone '{tzname}'; use a name like Europe/Amsterdam")
        tz = ZoneInfo(DEFAULTS["timezone"])

    sg_raw = n.get("sendgrid", DEFAULTS["sendgrid"])
    sg = (
        c.mapping((*kp, "sendgrid"), sg_raw, ("region", "unsubscribe_group", "categories"), (), "'sendgrid'")
        or {}
    )
    region = c.text((*kp, "sendgrid", "region"), sg.get("region", "global")) or "global"
    if region not in ("global", "eu"):
        c.error((*kp, "sendgrid", "region"), f"region '{region}' should be 'global' or 'eu'")
    group = c.integer((*kp, "sendgrid", "unsubscribe_group"), sg.get("unsubscribe_group"), minimum=1)
    cats = c.seq((*kp, "sendgrid", "categories"), sg.get("categories"), "'categories'")
    categories = tuple(t for i, v in enumerate(cats) if (t := c.text((*kp, "sendgrid", "categories", i), v)))

    utm_raw = c.mapping((*kp, "utm"), n.get("utm", {}), ("source", "medium", "campaign"), (), "'utm'") or {}
    utm = {k: str(v) for k, v in utm_raw.items() if k in ("source", "medium", "campaign") and v is not None}

    editors = tuple(
        e for i, v in enumerate(c.seq((*kp, "editors"), n.get("editors"), "'editors'"))
        if (e := c.email((*kp, "editors", i), v))
    )  # fmt: skip
    cov = (
        c.mapping(
            (*kp, "coverage"),
            n.get("coverage", {}),
            ("essential_sectors", "essential_themes", "max_share"),
            (),
        )
        or {}
    )
    ess_sectors = c.refs(
        (*kp, "coverage", "essential_sectors"), cov.get("essential_sectors"), tax.sectors, "sector"
    )
    ess_themes = c.refs(
        (*kp, "coverage", "essential_themes"), cov.get("essential_themes"), tax.themes, "theme"
    )
    max_share = cov.get("max_share", DEFAULTS["coverage"]["max_share"])
    if not isinstance(max_share, int | float) or isinstance(max_share, bool) or not 0 < max_share <= 1:
        c.error((*kp, "coverage", "max_share"), "max_share should be a fraction between 0 and 1, such as 0.5")
        max_share = 0.5
    rep = c.mapping((*kp, "report"), n.get("report", {}), ("silent_months",), ()) or {}
    silent = c.integer((*kp, "report", "silent_months"), rep.get("silent_months", 6), minimum=1) or 6
    col = c.mapping((*kp, "collect"), n.get("collect", {}), DEFAULTS["collect"], ()) or {}
    collect = dict(DEFAULTS["collect"])
    for key in DEFAULTS["collect"]:
        if key in col:
            value = c.integer((*kp, "collect", key), col[key], minimum=0 if key == "retries" else 1)
            if value is not None:
                collect[key] = value
    subscribers = c.text((*kp, "subscribers"), n.get("subscribers", DEFAULTS["subscribers"]))
    state = c.text((*kp, "state"), n.get("state", DEFAULTS["state"]))
    if not (title and from_email and address and archive):
        return None
    return Settings(
        title=title,
        from_email=from_email,
        from_name=from_name,
        reply_to=reply_to,
        postal_address=address,
        archive_url=archive.rstrip("/") + "/",
        language=language or "nl",
        timezone=tz,
        sendgrid_region=region,
        unsubscribe_group=group,
        categories=categories,
        utm=utm,
        subscribers=(root / (subscribers or DEFAULTS["subscribers"])),
        state=(root / (state or DEFAULTS["state"])),
        editors=editors,
        essential_sectors=ess_sectors,
        essential_themes=ess_themes,
        max_share=float(max_share),
        silent_months=silent,
        collect=collect,
    )


def _partners(c: Checker, raw: Any, tax: Taxonomy) -> dict[str, Partner]:
    partners: dict[str, Partner] = {}
    allowed = ("id", "name", "sector", "province", "website", "feeds", "joined", "priority")
    for i, entry in enumerate(c.seq(("partners",), raw, "'partners'")):
        kp: KeyPath = ("partners", i)
        p = c.mapping(kp, entry, allowed, ("id", "name", "sector", "province"), "each partner")
        if not p:
            continue
        pid = c.ident((*kp, "id"), p.get("id"))
        name = c.text((*kp, "name"), p.get("name"))
        sector = c.ref((*kp, "sector"), p.get("sector"), tax.sectors, "sector")
        province = c.ref((*kp, "province"), p.get("province"), tax.provinces, "province")
        website = c.url((*kp, "website"), p.get("website"))
        joined = p.get("joined")
        if joined is not None and not isinstance(joined, dt.date):
            c.error((*kp, "joined"), f"'joined' should be a date like 2026-03-01, not {joined!r}")
            joined = None
        if isinstance(joined, dt.datetime):
            joined = joined.date()
        priority = c.integer((*kp, "priority"), p.get("priority", 0)) or 0
        feeds = []
        feed_list = c.seq((*kp, "feeds"), p.get("feeds"), "'feeds'")
        for j, f in enumerate(feed_list):
            fid = pid if len(feed_list) == 1 else f"{pid}-{j + 1}"
            owner = {"name": name, "partner": pid, "priority": priority}
            feed = _feed(c, (*kp, "feeds", j), f, tax, owner, fid or "?")
            if feed:
                feeds.append(feed)
        if pid and pid in partners:
            c.error((*kp, "id"), f"partner id '{pid}' is used twice; ids must be unique")
        elif pid and name and sector and province:
            partners[pid] = Partner(pid, name, sector, province, website, tuple(feeds), joined, priority)
    return partners


def _sources(c: Checker, raw: Any, tax: Taxonomy, partners: Mapping[str, Partner]) -> dict[str, FeedSource]:
    sources: dict[str, FeedSource] = {}
    allowed = ("id", "name", "url", "kind", "themes", "provinces", "priority", "website")
    for i, entry in enumerate(c.seq(("sources",), raw, "'sources'")):
        kp: KeyPath = ("sources", i)
        s = c.mapping(kp, entry, allowed, ("id", "name", "url"), "each source")
        if not s:
            continue
        sid = c.ident((*kp, "id"), s.get("id"))
        c.url((*kp, "website"), s.get("website"))
        feed = _feed(
            c, kp, {k: v for k, v in s.items() if k not in ("id", "name", "website")}, tax, s, sid or "?"
        )
        if sid and (sid in sources or sid in partners):
            c.error((*kp, "id"), f"source id '{sid}' is already used by a partner or source; pick another")
        elif sid and feed:
            sources[sid] = feed
    return sources


def _submissions(
    c: Checker, raw: Any, root: Path, partners: Mapping[str, Partner]
) -> tuple[SubmissionSource, ...]:
    out = []
    for i, entry in enumerate(c.seq(("submissions",), raw, "'submissions'")):
        kp: KeyPath = ("submissions", i)
        s = c.mapping(kp, entry, ("path", "url", "partner"), (), "each submissions entry")
        if not s:
            continue
        if ("path" in s) == ("url" in s):
            c.error(kp, "give either 'path: FOLDER' (local files) or 'url: ADDRESS' with 'partner: ID'")
            continue
        if "path" in s:
            path = c.text((*kp, "path"), s["path"])
            if path:
                out.append(SubmissionSource(path=root / path))
        else:
            url = c.url((*kp, "url"), s["url"])
            partner = c.ref((*kp, "partner"), s.get("partner"), partners, "partner")
            if "partner" not in s:
                c.error(kp, "a remote submission URL needs 'partner: ID' (whose stories it serves)")
            if url and partner:
                out.append(SubmissionSource(url=url, partner=partner))
    return tuple(out)


def check_config(root: Path) -> tuple[Config | None, list[Problem]]:
    """Read and check ``sources.yaml``; return the config (None when unusable) and every problem."""
    path = root / CONFIG_FILE
    shown = display_path(path, root)
    if not path.exists():
        return None, [
            Problem(shown, None, f"no {CONFIG_FILE} in {root}; run 'newsletter init DIR' or pass --root")
        ]
    try:
        doc = load(path, shown)
    except InputInvalid as e:
        return None, list(e.problems)
    c = Checker(doc)
    top = c.mapping((), doc.data, ("newsletter", "taxonomy", "partners", "sources", "submissions"),
                    ("newsletter", "taxonomy"), CONFIG_FILE) or {}  # fmt: skip
    taxonomy = _taxonomy(c, top.get("taxonomy"))
    settings = _settings(c, top.get("newsletter"), root, taxonomy)
    partners = _partners(c, top.get("partners"), taxonomy)
    sources = _sources(c, top.get("sources"), taxonomy, partners)
    submissions = _submissions(c, top.get("submissions"), root, partners)
    if not c.ok or settings is None:
        return None, c.problems
    config = Config(root, settings, taxonomy, partners, sources, submissions, tuple(c.problems))
    return config, c.problems


def load_config(root: Path) -> Config:
    """The checked config; raises InputInvalid listing every problem of ``sources.yaml``."""
    config, problems = check_config(root)
    if config is None:
        raise InputInvalid(problems)
    return config
