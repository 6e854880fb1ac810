"""The instance's settings: ``sources.yaml``, parsed, checked once and turned into typed values
(``check_config_doc``; reading the file is ``pipeline.infra.instance.load_config``).

Defaults live in one table (``DEFAULTS``); a bad value gets a problem naming its line and the
fix. Every later stage receives a ``Config``, never the raw YAML.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.domain.errors import Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.models import Contact
from pipeline.domain.schema import Checker, listing, suggest_one
from pipeline.domain.yamldoc import KeyPath, YamlDoc

CONFIG_FILE = "sources.yaml"

# Every default of sources.yaml, in one table: the checks below read them from here and nowhere
# else, and docs/formats.md lists them.
DEFAULTS: dict[str, Any] = {
    "language": "nl",
    "timezone": "Europe/Amsterdam",
    "subscribers": "subscribers.csv",
    "state": "state/newsletter.sqlite3",
    # timeout: seconds a request may take; settle: how much longer SendGrid may still be taking in a
    # request that timed out (a cancel of its batch waits that long, so the request cannot arrive after it).
    "sendgrid": {
        "region": "global",
        "unsubscribe_group": None,
        "categories": [],
        "timeout": 60,
        "settle": 30,
    },
    "utm": {},
    "coverage": {"essential_sectors": [], "essential_themes": [], "max_share": 0.5},
    "report": {"silent_months": 6},
    # Limits that keep one slow or huge source from holding up a run.
    # concurrency: requests at once over all hosts (per_host bounds each one): 128 keeps a warm run of
    # 300 feeds within a second, start-up included (bench/bench_collect.py).
    # allow_private_addresses: fetch from loopback, private and link-local addresses too (an intranet
    # feed, the tests' local servers); off, collect refuses them, redirects and DNS answers included.
    "collect": {
        "timeout": 20,
        "max_bytes": 10_000_000,
        "concurrency": 128,
        "per_host": 4,
        "retries": 2,
        "allow_private_addresses": False,
    },
    # A list send is handed to SendGrid at least hold_minutes before it goes out (its send_at), so that
    # the next cron run can still repair a killed send by cancelling its batch (SendGrid cancels no
    # later than 10 minutes before). Cron hands an approved issue over schedule_ahead_minutes before
    # its send_at: at least the hold plus the cron interval, so it goes out at that very minute.
    "delivery": {"hold_minutes": 30, "schedule_ahead_minutes": 60},
    # The public sign-up service ('newsletter serve', docs/audience.md): where readers reach it (the
    # confirmation link points there), the consent text they agree to and its version (on record with
    # each confirmation), how long a confirmation link works, and the limits per client and address.
    "signup": {
        "public_url": None,  # e.g. https://nieuwsbrief.example.org; default: the address serve listens on
        "consent_text": (
            "Ja, ik wil de nieuwsbrief ontvangen. Mijn e-mailadres wordt alleen daarvoor gebruikt; ik kan me"
            " altijd afmelden via de link in elke nieuwsbrief."
        ),
        "consent_version": "1",
        "link_days": 7,
        "per_client_per_hour": 20,
        "per_address_per_day": 3,
    },
    # The plain-language (B1) checks of 'validate' and 'check' (docs/plain-language.md): the
    # Direct Duidelijk guidelines' "about 12 to 15 words" a sentence; a word of more syllables than
    # max_word_syllables counts as long; Flesch-Douma under min_flesch_douma is a hint.
    "plain_language": {
        "enabled": True,
        "max_sentence_words": 15,
        "max_word_syllables": 6,
        "min_flesch_douma": 60,
        "skip": [],  # rules turned off for every text
        "allow": [],  # words never flagged
        "stadhuistaal": None,  # the instance's own word list, beside the package's
    },
    # A section without 'limit' shows this many items.
    "section_limit": 5,
    # The kind of an item whose feed says none, by who publishes the feed: a partner's feed tells
    # partner stories, another source's (a research institute's) research. Used when the taxonomy
    # has that kind; otherwise validate asks for 'kind:' on the feed.
    "feed_kind": {"partner": "story", "source": "research"},
    # Partners' progress on their pledge (monitoring/): the kind its activities get as newsletter
    # candidates. A section that lists this kind takes them.
    "monitoring": {"kind": "voortgang"},
}
PLEDGE_MAX = 400  # a pledge is a sentence or two, not a plan

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
    """One entry of a taxonomy list (a sector, province, kind or horizon)."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class SectionTerm(Term):
    """A section of the newsletter: which kinds it takes, how many items, whether it leads the issue."""

    kinds: tuple[str, ...] = ()  # empty: any kind
    limit: int = DEFAULTS["section_limit"]
    featured: bool = False

    def takes(self, kind: str | None) -> bool:
        return not self.kinds or kind in self.kinds

    @property
    def is_agenda(self) -> bool:
        """A section of events only: shown as an agenda."""
        return bool(self.kinds) and set(self.kinds) <= {"event"}


@dataclass(frozen=True)
class ThemeTerm(Term):
    keywords: tuple[str, ...] = ()  # an item whose title or summary has one gets the theme
    opgave: int | str | None = None  # the alliance's task (opgave) the theme belongs to


T = TypeVar("T", bound=Term)


class Terms(dict[str, T]):
    """A taxonomy list by id, in the file's order."""

    def title(self, term_id: str | None, default: str | None = None) -> str | None:
        """The title of ``term_id``, or ``default`` when it is not in the list."""
        term = self.get(term_id) if term_id else None
        return term.title if term is not None else default

    def titles(self, ids: Iterable[str]) -> tuple[str, ...]:
        """The titles of the ids that are in the list, in the order given."""
        return tuple(self[i].title for i in ids if i in self)


@dataclass(frozen=True)
class Taxonomy:
    sections: Terms[SectionTerm]
    themes: Terms[ThemeTerm]
    sectors: Terms[Term]
    provinces: Terms[Term]
    kinds: Terms[Term]
    horizons: Terms[Term]


@dataclass(frozen=True)
class Limits:
    """How much one source may take when collecting, and where it may be fetched from
    (``newsletter.collect`` in sources.yaml)."""

    timeout: float = DEFAULTS["collect"]["timeout"]  # seconds for the whole source, retries included
    max_bytes: int = DEFAULTS["collect"]["max_bytes"]
    concurrency: int = DEFAULTS["collect"]["concurrency"]  # requests at once, over all hosts
    per_host: int = DEFAULTS["collect"]["per_host"]
    retries: int = DEFAULTS["collect"]["retries"]
    backoff: float = 0.5  # first pause before a retry, doubled each time
    # Loopback, private, link-local and other internal addresses are refused unless this is true.
    allow_private_addresses: bool = DEFAULTS["collect"]["allow_private_addresses"]


_PLAIN = DEFAULTS["plain_language"]


@dataclass(frozen=True)
class Signup:
    """The public sign-up service's settings (``newsletter.signup``)."""

    public_url: str | None = DEFAULTS["signup"]["public_url"]
    consent_text: str = DEFAULTS["signup"]["consent_text"]
    consent_version: str = DEFAULTS["signup"]["consent_version"]
    link_days: int = DEFAULTS["signup"]["link_days"]
    per_client_per_hour: int = DEFAULTS["signup"]["per_client_per_hour"]
    per_address_per_day: int = DEFAULTS["signup"]["per_address_per_day"]


# -- plain language (B1): the rules' names and the word-list format, which the settings name and
# pipeline.domain.plain applies (plain imports these: config imports nothing of plain)
RULES = ("sentence", "long-word", "passive", "stadhuistaal", "readability")
# What an editor may write for a rule, in a '# b1:' marker or in plain_language.skip (Dutch or English).
RULE_NAMES = {
    "sentence": "sentence", "sentences": "sentence", "zin": "sentence", "zinnen": "sentence",
    "zinslengte": "sentence",
    "long-word": "long-word", "long-words": "long-word", "long": "long-word", "lang": "long-word",
    "lange-woorden": "long-word", "woordlengte": "long-word",
    "passive": "passive", "passief": "passive", "lijdende-vorm": "passive",
    "stadhuistaal": "stadhuistaal", "formal": "stadhuistaal",
    "readability": "readability", "leesbaarheid": "readability", "flesch-douma": "readability",
}  # fmt: skip
ALL = ("all", "alles")


def parse_word_list(text: str, path: str) -> tuple[list[tuple[str, str]], list[Problem]]:
    """``formal, formal = plain / plain`` lines into (formal, alternative) pairs, and the bad lines."""
    pairs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()  # a comment, on its own line or after an entry
        if not line:
            continue
        formal, eq, plain = line.partition("=")
        forms = [" ".join(f.lower().split()) for f in formal.split(",") if f.strip()]
        plain = " ".join(plain.split())
        if not eq or not forms or not plain:
            problems.append(
                Problem(path, n, _("write each entry as 'formal word = plain word', e.g. 'teneinde = om'"))
            )
            continue
        pairs += [(f, plain) for f in forms]
    return pairs, problems


@dataclass(frozen=True)
class PlainLanguage:
    """The B1 checks' settings (``newsletter.plain_language``); see pipeline.domain.plain."""

    enabled: bool = _PLAIN["enabled"]
    max_sentence_words: int = _PLAIN["max_sentence_words"]
    max_word_syllables: int = _PLAIN["max_word_syllables"]
    min_flesch_douma: int = _PLAIN["min_flesch_douma"]
    skip: frozenset[str] = frozenset()  # rules turned off for every text
    allow: frozenset[str] = frozenset()  # words never flagged, lower case
    stadhuistaal: tuple[tuple[str, str], ...] = ()  # the instance's own (formal, alternative) pairs


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
    sendgrid_timeout: float  # seconds one request may take
    sendgrid_settle: float  # after a timeout, how long SendGrid may still be taking a request in
    categories: tuple[str, ...]
    utm: Mapping[str, str]
    subscribers: Path
    state: Path
    editors: tuple[str, ...]
    essential_sectors: tuple[str, ...]
    essential_themes: tuple[str, ...]
    max_share: float
    silent_months: int
    collect: Limits
    hold: dt.timedelta  # a list send goes out at least this long after it is handed to SendGrid
    schedule_ahead: dt.timedelta  # cron hands an approved issue over this long before its send_at
    plain: PlainLanguage = PlainLanguage()
    signup: Signup = Signup()
    monitoring_kind: str = DEFAULTS["monitoring"]["kind"]
    # A PostgreSQL URL (newsletter.state, or NEWSLETTER_DATABASE_URL over it): the state lives there,
    # shared by every host, and ``state`` is only the local folder's default file, unused.
    database_url: str | None = None

    @property
    def database(self) -> Path | str:
        """What the store opens: the PostgreSQL URL, or the SQLite file."""
        return self.database_url or self.state

    @property
    def shared(self) -> bool:
        """Whether the state is in PostgreSQL (locks are then the database's, not files)."""
        return self.database_url is not None

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


def _term(c: Checker, kp: KeyPath, name: str, e: dict[str, Any], tid: str, title: str) -> Term:
    description = c.text((*kp, "description"), e.get("description"))
    if name == "sections":
        limit = c.integer((*kp, "limit"), e.get("limit"), minimum=1) if "limit" in e else None
        featured = c.boolean((*kp, "featured"), e.get("featured"))
        kinds = tuple(str(k) for k in c.seq((*kp, "kinds"), e.get("kinds"), "'kinds'") if isinstance(k, str))
        return SectionTerm(tid, title, description, kinds, limit or DEFAULTS["section_limit"], bool(featured))
    if name == "themes":
        words = c.seq((*kp, "keywords"), e.get("keywords"), "'keywords'")
        keywords = tuple(w for i, v in enumerate(words) if (w := c.text((*kp, "keywords", i), v)))
        opgave = e.get("opgave")
        return ThemeTerm(tid, title, description, keywords, opgave if isinstance(opgave, int | str) else None)
    return Term(tid, title, description)


def _taxonomy(c: Checker, raw: Any) -> Taxonomy:
    kp: KeyPath = ("taxonomy",)
    tax = c.mapping(kp, raw, TAXONOMY_LISTS, REQUIRED_LISTS, "'taxonomy'") or {}
    lists: dict[str, Terms[Any]] = {}
    for name, extras in TAXONOMY_LISTS.items():
        terms: Terms[Any] = Terms()
        for i, entry in enumerate(c.seq((*kp, name), tax.get(name), f"'taxonomy.{name}'")):
            ekp = (*kp, name, i)
            what = _("each of taxonomy.{name}").format(name=name)
            e = c.mapping(ekp, entry, ("id", "title", *extras), ("id", "title"), what)
            if not e:
                continue
            tid = c.ident((*ekp, "id"), e.get("id"))
            title = c.text((*ekp, "title"), e.get("title"))
            if tid and tid in terms:
                message = _("{name} id '{id}' is used twice; ids must be unique")
                c.error((*ekp, "id"), message.format(name=name, id=tid))
            elif tid and title:
                terms[tid] = _term(c, ekp, name, e, tid, title)
        lists[name] = terms
    if "provinces" in tax and NATIONWIDE not in lists["provinces"]:
        message = _("provinces must include '{nationwide}' for work that is nationwide")
        c.error((*kp, "provinces"), message.format(nationwide=NATIONWIDE))
    for i, entry in enumerate(tax.get("sections") or []):
        if isinstance(entry, dict) and "kinds" in entry:
            c.refs((*kp, "sections", i, "kinds"), entry["kinds"], lists["kinds"], "kind")
    return Taxonomy(**lists)


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
        default = DEFAULTS["feed_kind"][publisher]
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


def _settings(
    c: Checker,
    raw: Any,
    root: Path,
    tax: Taxonomy,
    read_text: Callable[[Path], str],
    database_url: str | None,
) -> Settings | None:
    kp: KeyPath = ("newsletter",)
    allowed = (
        "title", "from", "reply_to", "postal_address", "archive_url", "language", "timezone", "sendgrid",
        "utm", "subscribers", "state", "editors", "coverage", "report", "collect", "delivery",
        "plain_language", "monitoring", "signup",
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
        c.error(
            (*kp, "timezone"),
            _("unknown time zone '{name}'; use a name like Europe/Amsterdam").format(name=tzname),
        )
        tz = ZoneInfo(DEFAULTS["timezone"])

    sg_raw = n.get("sendgrid", DEFAULTS["sendgrid"])
    sg = c.mapping((*kp, "sendgrid"), sg_raw, tuple(DEFAULTS["sendgrid"]), (), "'sendgrid'") or {}
    region = c.text((*kp, "sendgrid", "region"), sg.get("region")) or DEFAULTS["sendgrid"]["region"]
    if region not in ("global", "eu"):
        c.error(
            (*kp, "sendgrid", "region"),
            _("region '{region}' should be 'global' or 'eu'").format(region=region),
        )
    group = c.integer((*kp, "sendgrid", "unsubscribe_group"), sg.get("unsubscribe_group"), minimum=1)
    sg_timeout = c.integer((*kp, "sendgrid", "timeout"), sg.get("timeout"), minimum=1)
    sg_settle = c.integer((*kp, "sendgrid", "settle"), sg.get("settle"), minimum=0)
    cats = c.seq((*kp, "sendgrid", "categories"), sg.get("categories"), "'categories'")
    categories = tuple(t for i, v in enumerate(cats) if (t := c.text((*kp, "sendgrid", "categories", i), v)))

    utm_keys = ("source", "medium", "campaign")
    utm_raw = c.mapping((*kp, "utm"), n.get("utm", DEFAULTS["utm"]), utm_keys, (), "'utm'") or {}
    utm = {k: str(v) for k, v in utm_raw.items() if k in utm_keys and v is not None}

    editors = tuple(
        e for i, v in enumerate(c.seq((*kp, "editors"), n.get("editors"), "'editors'"))
        if (e := c.email((*kp, "editors", i), v))
    )  # fmt: skip
    cov = (
        c.mapping(
            (*kp, "coverage"),
            n.get("coverage", DEFAULTS["coverage"]),
            tuple(DEFAULTS["coverage"]),
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
        c.error(
            (*kp, "coverage", "max_share"), _("max_share should be a fraction between 0 and 1, such as 0.5")
        )
        max_share = DEFAULTS["coverage"]["max_share"]
    rep = c.mapping((*kp, "report"), n.get("report", DEFAULTS["report"]), tuple(DEFAULTS["report"]), ()) or {}
    silent = c.integer((*kp, "report", "silent_months"), rep.get("silent_months"), minimum=1)
    col = c.mapping((*kp, "collect"), n.get("collect", {}), tuple(DEFAULTS["collect"]), ()) or {}
    collect = dict(DEFAULTS["collect"])
    for key in DEFAULTS["collect"]:
        if key in col:
            ckp = (*kp, "collect", key)
            value: bool | int | None
            if key == "allow_private_addresses":
                value = c.boolean(ckp, col[key])
            else:
                value = c.integer(ckp, col[key], minimum=0 if key == "retries" else 1)
            if value is not None:
                collect[key] = value
    dkp = (*kp, "delivery")
    dl = c.mapping(dkp, n.get("delivery", {}), tuple(DEFAULTS["delivery"]), (), "'delivery'") or {}
    hold = (
        c.integer((*dkp, "hold_minutes"), dl.get("hold_minutes"), minimum=15)
        if "hold_minutes" in dl
        else None
    )
    ahead = (
        c.integer((*dkp, "schedule_ahead_minutes"), dl.get("schedule_ahead_minutes"), minimum=15)
        if "schedule_ahead_minutes" in dl
        else None
    )
    hold = hold or DEFAULTS["delivery"]["hold_minutes"]
    ahead = ahead or DEFAULTS["delivery"]["schedule_ahead_minutes"]
    if ahead < hold:
        message = _(
            "schedule_ahead_minutes ({ahead}) is less than hold_minutes ({hold}); make it at least the hold"
            " plus the interval cron runs at"
        )
        c.error(dkp, message.format(ahead=ahead, hold=hold))
    elif ahead > 72 * 60 - 60:
        c.error(
            dkp, _("schedule_ahead_minutes is more than SendGrid holds mail (72 hours); use fewer minutes")
        )
    plain = _plain_language(c, (*kp, "plain_language"), n.get("plain_language", {}), root, read_text)
    signup = _signup(c, (*kp, "signup"), n.get("signup", {}))
    mon = c.mapping((*kp, "monitoring"), n.get("monitoring", {}), tuple(DEFAULTS["monitoring"]), ()) or {}
    monitoring_kind = DEFAULTS["monitoring"]["kind"]
    if mon.get("kind") is not None:
        monitoring_kind = (
            c.ref((*kp, "monitoring", "kind"), mon["kind"], tax.kinds, "kind") or monitoring_kind
        )
    subscribers = c.text((*kp, "subscribers"), n.get("subscribers", DEFAULTS["subscribers"]))
    state = c.text((*kp, "state"), n.get("state", DEFAULTS["state"]))
    if state and state.startswith(("postgresql://", "postgres://")):
        if ":" in state.split("://", 1)[1].split("@", 1)[0] and "@" in state:
            c.warn(
                (*kp, "state"),
                "a password in sources.yaml ends up in git: set NEWSLETTER_DATABASE_URL instead",
            )
        database_url = database_url or state
        state = None
    if not (title and from_email and address and archive):
        return None
    return Settings(
        title=title,
        from_email=from_email,
        from_name=from_name,
        reply_to=reply_to,
        postal_address=address,
        archive_url=archive.rstrip("/") + "/",
        language=language or DEFAULTS["language"],
        timezone=tz,
        sendgrid_region=region,
        unsubscribe_group=group,
        sendgrid_timeout=float(sg_timeout or DEFAULTS["sendgrid"]["timeout"]),
        sendgrid_settle=float(DEFAULTS["sendgrid"]["settle"] if sg_settle is None else sg_settle),
        categories=categories,
        utm=utm,
        subscribers=(root / (subscribers or DEFAULTS["subscribers"])),
        state=(root / (state or DEFAULTS["state"])),
        editors=editors,
        essential_sectors=ess_sectors,
        essential_themes=ess_themes,
        max_share=float(max_share),
        silent_months=silent or DEFAULTS["report"]["silent_months"],
        collect=Limits(**collect),
        hold=dt.timedelta(minutes=hold),
        schedule_ahead=dt.timedelta(minutes=ahead),
        plain=plain,
        signup=signup,
        monitoring_kind=monitoring_kind,
        database_url=database_url,
    )


def _signup(c: Checker, kp: KeyPath, raw: Any) -> Signup:
    d = DEFAULTS["signup"]
    s = c.mapping(kp, raw, tuple(d), (), "'signup'") or {}
    url = c.url((*kp, "public_url"), s.get("public_url")) if s.get("public_url") is not None else None
    text = c.text((*kp, "consent_text"), s.get("consent_text"), max_len=1000)
    version = c.text((*kp, "consent_version"), s.get("consent_version"))
    numbers = {
        key: c.integer((*kp, key), s.get(key), minimum=1) or d[key]
        for key in ("link_days", "per_client_per_hour", "per_address_per_day")
    }
    if s.get("consent_text") is not None and s.get("consent_version") is None:
        c.warn(kp, _("a consent text of your own needs its 'consent_version' (each confirmation records it)"))
    public = url.rstrip("/") if url else None
    return Signup(public, text or d["consent_text"], version or d["consent_version"], **numbers)


def _plain_language(
    c: Checker, kp: KeyPath, raw: Any, root: Path, read_text: Callable[[Path], str]
) -> PlainLanguage:
    p = c.mapping(kp, raw, tuple(_PLAIN), (), "'plain_language'") or {}
    if not p:
        return PlainLanguage()
    enabled = c.boolean((*kp, "enabled"), p.get("enabled"))
    limits = {}
    for key in ("max_sentence_words", "max_word_syllables", "min_flesch_douma"):
        value = c.integer((*kp, key), p.get(key), minimum=0 if key == "min_flesch_douma" else 1)
        limits[key] = _PLAIN[key] if value is None else value
    skip = set()
    for i, v in enumerate(c.seq((*kp, "skip"), p.get("skip"), "'skip'")):
        name = c.text((*kp, "skip", i), v)
        if name and name.lower() in ALL:
            skip |= set(RULES)
        elif name and name.lower() in RULE_NAMES:
            skip.add(RULE_NAMES[name.lower()])
        elif name:
            close = suggest_one(name, RULE_NAMES)
            if close:
                message = _("unknown rule '{name}': did you mean '{close}'? Rules: {rules}")
            else:
                message = _("unknown rule '{name}': Rules: {rules}")
            c.error((*kp, "skip", i), message.format(name=name, close=close, rules=", ".join(RULES)))
    allow = {
        w.lower() for i, v in enumerate(c.seq((*kp, "allow"), p.get("allow"), "'allow'"))
        if (w := c.text((*kp, "allow", i), v))
    }  # fmt: skip
    pairs: list[tuple[str, str]] = []
    name = c.text((*kp, "stadhuistaal"), p.get("stadhuistaal"))
    if name:
        path = root / name
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as e:
            if isinstance(e, UnicodeDecodeError):
                message = _(
                    "the word list '{name}' is not UTF-8 text; give a text file in the instance, one "
                    "'formal word = plain word' a line"
                )
            else:
                message = _(
                    "the word list '{name}' cannot be read; give a text file in the instance, one "
                    "'formal word = plain word' a line"
                )
            c.error((*kp, "stadhuistaal"), message.format(name=name))
        else:
            found, problems = parse_word_list(text, display_path(path, root))
            pairs = found
            c.problems.extend(problems)
    return PlainLanguage(
        enabled=_PLAIN["enabled"] if enabled is None else enabled,
        skip=frozenset(skip),
        allow=frozenset(allow),
        stadhuistaal=tuple(pairs),
        **limits,
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


def _pledge(c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy) -> Pledge | None:
    p = c.mapping(kp, raw, ("text", "themes", "horizon", "since"), ("text",), "'pledge'")
    if not p:
        return None
    text = c.text((*kp, "text"), p.get("text"), max_len=PLEDGE_MAX)
    themes = c.refs((*kp, "themes"), p.get("themes"), tax.themes, "theme")
    horizon = None
    if p.get("horizon") is not None:
        if tax.horizons:
            horizon = c.ref((*kp, "horizon"), p["horizon"], tax.horizons, "horizon")
        else:
            c.error(
                (*kp, "horizon"), _("this newsletter has no 'horizons' in its taxonomy; remove 'horizon'")
            )
    since = _date(c, (*kp, "since"), p.get("since"))
    return Pledge(text, themes, horizon, since) if text else None


def _contact(c: Checker, kp: KeyPath, raw: Any) -> Contact | None:
    m = c.mapping(kp, raw, ("name", "email"), ("email",), "'monitoring_contact'")
    if not m:
        return None
    email = c.email((*kp, "email"), m.get("email"))
    return Contact(c.text((*kp, "name"), m.get("name")), email) if email else None


def _partners(c: Checker, raw: Any, tax: Taxonomy) -> dict[str, Partner]:
    partners: dict[str, Partner] = {}
    allowed = (
        "id", "name", "sector", "province", "website", "feeds", "joined", "priority", "pledge",
        "monitoring_contact",
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
                pid, name, sector, province, website, tuple(feeds), joined, priority, pledge, contact
            )
    return partners


def _sources(c: Checker, raw: Any, tax: Taxonomy, partners: Mapping[str, Partner]) -> dict[str, FeedSource]:
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


def _submissions(
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


def check_config_doc(
    doc: YamlDoc, root: Path, *, read_text: Callable[[Path], str], database_url: str | None
) -> tuple[Config | None, list[Problem]]:
    """Check the parsed ``sources.yaml`` of the instance at ``root``; return the config (None when
    unusable) and every problem. ``read_text`` reads a word list the settings name (a UTF-8 text
    file in the instance); ``database_url`` is NEWSLETTER_DATABASE_URL, which wins over the file's."""
    c = Checker(doc)
    top = c.mapping((), doc.data, ("newsletter", "taxonomy", "partners", "sources", "submissions"),
                    ("newsletter", "taxonomy"), CONFIG_FILE) or {}  # fmt: skip
    taxonomy = _taxonomy(c, top.get("taxonomy"))
    settings = _settings(c, top.get("newsletter"), root, taxonomy, read_text, database_url)
    partners = _partners(c, top.get("partners"), taxonomy)
    sources = _sources(c, top.get("sources"), taxonomy, partners)
    submissions = _submissions(c, top.get("submissions"), root, partners)
    if settings is not None and taxonomy.kinds and settings.monitoring_kind not in taxonomy.kinds:
        pledged = next((i for i, p in enumerate(partners.values()) if p.pledge), None)
        if pledged is not None:
            kind = settings.monitoring_kind
            message = _(
                "partners report progress on their pledge, and its activities become newsletter candidates "
                "of kind '{kind}', which taxonomy.kinds does not have: add {{id: {kind}, title: Voortgang}} "
                "to taxonomy.kinds and '{kind}' to a section's 'kinds', or set newsletter.monitoring.kind"
            )
            c.warn(("partners", pledged, "pledge"), message.format(kind=kind))
    if not c.ok or settings is None:
        return None, c.problems
    config = Config(root, settings, taxonomy, partners, sources, submissions, tuple(c.problems))
    return config, c.problems
