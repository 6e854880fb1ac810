"""The instance's settings: ``sources.yaml``, parsed, checked once and turned into typed values
(``check_config_doc``; reading the file is ``pipeline.infra.instance.load_config``).

The settings are one typed tree (``Settings``), each section of ``newsletter:`` a frozen dataclass
with its defaults next to its fields (``SendGrid``, ``Limits``, ``Delivery``, ``Signup``, ...): the
checks read the user's YAML into them once, and a bad value gets a problem naming its line and the
fix. Every later stage receives a ``Config``, never the raw YAML.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.domain.errors import Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.models import Contact
from pipeline.domain.schema import Checker, listing, suggest_one
from pipeline.domain.yamldoc import KeyPath, YamlDoc

CONFIG_FILE = "sources.yaml"

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
    limit: int = 5  # a section without 'limit' shows this many items
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
    (``newsletter.collect`` in sources.yaml): limits that keep one slow or huge source from holding up
    a run."""

    timeout: float = 20  # seconds for the whole source, retries included
    max_bytes: int = 10_000_000
    # Requests at once over all hosts (per_host bounds each one): 128 keeps a warm run of 300 feeds
    # within a second, start-up included (bench/bench_collect.py).
    concurrency: int = 128
    per_host: int = 4
    retries: int = 2
    backoff: float = 0.5  # first pause before a retry, doubled each time (not in sources.yaml)
    # Fetch from loopback, private and link-local addresses too (an intranet feed, the tests' local
    # servers); off, collect refuses them, redirects and DNS answers included.
    allow_private_addresses: bool = False

    # What sources.yaml may set (``backoff`` is the program's own).
    KEYS: ClassVar[tuple[str, ...]] = (
        "timeout", "max_bytes", "concurrency", "per_host", "retries", "allow_private_addresses",
    )  # fmt: skip


@dataclass(frozen=True)
class PortalSettings:
    """The partner portal (``newsletter.portal``; docs/portal.md): with ``git_commit`` each save is
    also a commit in the instance's repository, with the partner as its author."""

    git_commit: bool = False


@dataclass(frozen=True)
class Signup:
    """The public sign-up service's settings (``newsletter.signup``; 'newsletter serve',
    docs/audience.md): where readers reach it (the confirmation link points there), the consent text
    they agree to and its version (on record with each confirmation), how long a confirmation link
    works, and the limits per client and address."""

    public_url: str | None = None  # e.g. https://nieuwsbrief.example.org; None: where serve listens
    consent_text: str = (
        "Ja, ik wil de nieuwsbrief ontvangen. Mijn e-mailadres wordt alleen daarvoor gebruikt; ik kan me"
        " altijd afmelden via de link in elke nieuwsbrief."
    )
    consent_version: str = "1"
    link_days: int = 7
    per_client_per_hour: int = 20
    per_address_per_day: int = 3


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
    """The B1 checks' settings (``newsletter.plain_language``) of 'validate' and 'check'; see
    pipeline.domain.plain and docs/plain-language.md. The Direct Duidelijk guidelines' "about 12 to 15
    words" a sentence; a word of more syllables than max_word_syllables counts as long; Flesch-Douma
    under min_flesch_douma is a hint."""

    enabled: bool = True
    max_sentence_words: int = 15
    max_word_syllables: int = 6
    min_flesch_douma: int = 60
    skip: frozenset[str] = frozenset()  # rules turned off for every text
    allow: frozenset[str] = frozenset()  # words never flagged, lower case
    stadhuistaal: tuple[tuple[str, str], ...] = ()  # the instance's own (formal, alternative) pairs


@dataclass(frozen=True)
class SendGrid:
    """How the mail goes to SendGrid (``newsletter.sendgrid``)."""

    region: str = "global"  # or "eu" (api.eu.sendgrid.com)
    unsubscribe_group: int | None = None  # SendGrid's unsubscribe group id (one-click unsubscribe)
    categories: tuple[str, ...] = ()  # added to every message, besides the issue id
    timeout: float = 60  # seconds one request may take
    # After a timeout, how much longer SendGrid may still be taking the request in (a cancel of its
    # batch waits that long, so the request cannot arrive after it).
    settle: float = 30


@dataclass(frozen=True)
class Coverage:
    """What 'newsletter check' warns an issue misses or has too much of (``newsletter.coverage``)."""

    essential_sectors: tuple[str, ...] = ()
    essential_themes: tuple[str, ...] = ()
    max_share: float = 0.5  # the most one partner or province may have of an issue


@dataclass(frozen=True)
class ReportSettings:
    """The report's settings (``newsletter.report``)."""

    silent_months: int = 6  # 'Partners in beeld': on the call list after this long without an item


@dataclass(frozen=True)
class Delivery:
    """When a send is handed over (``newsletter.delivery``). A list send is handed to SendGrid at
    least hold_minutes before it goes out (its send_at), so that the next cron run can still repair a
    killed send by cancelling its batch (SendGrid cancels no later than 10 minutes before). Cron hands
    an approved issue over schedule_ahead_minutes before its send_at: at least the hold plus the cron
    interval, so it goes out at that very minute."""

    hold_minutes: int = 30
    schedule_ahead_minutes: int = 60

    @property
    def hold(self) -> dt.timedelta:
        """A list send goes out at least this long after it is handed to SendGrid."""
        return dt.timedelta(minutes=self.hold_minutes)

    @property
    def schedule_ahead(self) -> dt.timedelta:
        """Cron hands an approved issue over this long before its send_at."""
        return dt.timedelta(minutes=self.schedule_ahead_minutes)


@dataclass(frozen=True)
class MonitoringSettings:
    """Partners' progress on their pledge (``newsletter.monitoring``, monitoring/)."""

    kind: str = "voortgang"  # the kind its activities get as newsletter candidates


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


@dataclass(frozen=True)
class Logo:
    """``newsletter.logo``: the brand's image at the top of the issue and of the sign-up mails."""

    url: str  # an https address: mails link to the image, they embed nothing
    alt: str  # what the image says, for a reader who does not see it (the name on it)
    width: int = 180  # CSS pixels in the mail


@dataclass(frozen=True, kw_only=True)
class Settings:
    """``newsletter:`` in sources.yaml, checked: the root of the settings tree. Each section is a frozen
    dataclass holding its own defaults; a key left out of the file keeps the default written here."""

    title: str
    from_email: str
    from_name: str
    reply_to: str | None
    postal_address: str
    archive_url: str
    language: str = "nl"
    timezone: ZoneInfo = ZoneInfo("Europe/Amsterdam")  # noqa: RUF009 (immutable, and cached by ZoneInfo)
    utm: Mapping[str, str] = field(default_factory=dict)  # source, medium, campaign on outbound links
    # Files relative to the instance, made absolute against its root when read.
    subscribers: Path = Path("subscribers.csv")
    state: Path = Path("state/newsletter.sqlite3")
    editors: tuple[str, ...] = ()  # receive the delivery report after a send
    sendgrid: SendGrid = SendGrid()
    coverage: Coverage = Coverage()
    report: ReportSettings = ReportSettings()
    collect: Limits = Limits()
    delivery: Delivery = Delivery()
    plain: PlainLanguage = PlainLanguage()  # newsletter.plain_language
    signup: Signup = Signup()
    monitoring: MonitoringSettings = MonitoringSettings()
    portal: PortalSettings = PortalSettings()
    # A PostgreSQL URL (newsletter.state, or NEWSLETTER_DATABASE_URL over it): the state lives there,
    # shared by every host, and ``state`` is only the local folder's default file, unused.
    database_url: str | None = None
    logo: Logo | None = None  # newsletter.logo; None: the title alone

    # -- the sections' values under the names the stages read them by (deliver, curate, report), until
    # they read the section itself; no defaults here.
    @property
    def sendgrid_region(self) -> str:
        return self.sendgrid.region

    @property
    def unsubscribe_group(self) -> int | None:
        return self.sendgrid.unsubscribe_group

    @property
    def sendgrid_timeout(self) -> float:
        return self.sendgrid.timeout

    @property
    def sendgrid_settle(self) -> float:
        return self.sendgrid.settle

    @property
    def categories(self) -> tuple[str, ...]:
        return self.sendgrid.categories

    @property
    def essential_sectors(self) -> tuple[str, ...]:
        return self.coverage.essential_sectors

    @property
    def essential_themes(self) -> tuple[str, ...]:
        return self.coverage.essential_themes

    @property
    def max_share(self) -> float:
        return self.coverage.max_share

    @property
    def silent_months(self) -> int:
        return self.report.silent_months

    @property
    def hold(self) -> dt.timedelta:
        return self.delivery.hold

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
        return SectionTerm(tid, title, description, kinds, limit or SectionTerm.limit, bool(featured))
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


def _keys(section: type) -> tuple[str, ...]:
    """The keys sources.yaml may give a section: its dataclass's fields, in order."""
    return tuple(f.name for f in fields(section))


def _settings(
    c: Checker,
    raw: Any,
    root: Path,
    tax: Taxonomy,
    read_text: Callable[[Path], str],
    database_url: str | None,
) -> Settings | None:
    """``newsletter:`` read into the settings tree, each section by its own function below, in the
    order the problems are reported."""
    kp: KeyPath = ("newsletter",)
    allowed = (
        "title", "from", "reply_to", "postal_address", "archive_url", "language", "timezone", "sendgrid",
        "utm", "subscribers", "state", "editors", "coverage", "report", "collect", "delivery",
        "plain_language", "monitoring", "signup", "logo", "portal",
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
    language = c.text((*kp, "language"), n.get("language", Settings.language)) or Settings.language
    tz = _timezone(c, (*kp, "timezone"), n.get("timezone", Settings.timezone.key))
    sendgrid = _sendgrid(c, (*kp, "sendgrid"), n.get("sendgrid", {}))
    utm_keys = ("source", "medium", "campaign")
    utm_raw = c.mapping((*kp, "utm"), n.get("utm", {}), utm_keys, (), "'utm'") or {}
    utm = {k: str(v) for k, v in utm_raw.items() if k in utm_keys and v is not None}
    editors = tuple(
        e for i, v in enumerate(c.seq((*kp, "editors"), n.get("editors"), "'editors'"))
        if (e := c.email((*kp, "editors", i), v))
    )  # fmt: skip
    coverage = _coverage(c, (*kp, "coverage"), n.get("coverage", {}), tax)
    rep = c.mapping((*kp, "report"), n.get("report", {}), _keys(ReportSettings), ()) or {}
    silent = c.integer((*kp, "report", "silent_months"), rep.get("silent_months"), minimum=1)
    report = ReportSettings(silent or ReportSettings.silent_months)
    collect = _collect(c, (*kp, "collect"), n.get("collect", {}))
    delivery = _delivery(c, (*kp, "delivery"), n.get("delivery", {}))
    plain = _plain_language(c, (*kp, "plain_language"), n.get("plain_language", {}), root, read_text)
    signup = _signup(c, (*kp, "signup"), n.get("signup", {}))
    portal_raw = c.mapping((*kp, "portal"), n.get("portal", {}), _keys(PortalSettings), (), "'portal'") or {}
    portal = PortalSettings(bool(c.boolean((*kp, "portal", "git_commit"), portal_raw.get("git_commit"))))
    monitoring = _monitoring(c, (*kp, "monitoring"), n.get("monitoring", {}), tax)
    subscribers = c.text((*kp, "subscribers"), n.get("subscribers", str(Settings.subscribers)))
    state, database_url = _state(c, (*kp, "state"), n.get("state", str(Settings.state)), database_url)
    logo = _logo(c, (*kp, "logo"), n.get("logo"))
    if not (title and from_email and address and archive):
        return None
    return Settings(
        title=title,
        from_email=from_email,
        from_name=from_name,
        reply_to=reply_to,
        postal_address=address,
        archive_url=archive.rstrip("/") + "/",
        language=language,
        timezone=tz,
        utm=utm,
        subscribers=root / (subscribers or Settings.subscribers),
        state=root / (state or Settings.state),
        editors=editors,
        sendgrid=sendgrid,
        coverage=coverage,
        report=report,
        collect=collect,
        delivery=delivery,
        plain=plain,
        signup=signup,
        monitoring=monitoring,
        portal=portal,
        database_url=database_url,
        logo=logo,
    )


def _logo(c: Checker, kp: KeyPath, raw: Any) -> Logo | None:
    """``newsletter.logo``: ``url`` (https) and ``alt`` (required: the words on the image), ``width``."""
    if raw is None:
        return None
    n = c.mapping(kp, raw, _keys(Logo), ("url", "alt"), "'logo'")
    if n is None:
        return None
    url = c.url((*kp, "url"), n.get("url"))
    alt = c.text((*kp, "alt"), n.get("alt"), max_len=120)
    width = c.integer((*kp, "width"), n.get("width"), minimum=16)
    if url and not url.startswith("https://"):
        c.error((*kp, "url"), _("a logo in a mail must come from an https:// address"))
        return None
    return Logo(url, alt, min(width or Logo.width, 600)) if url and alt else None


def _state(c: Checker, kp: KeyPath, raw: Any, database_url: str | None) -> tuple[str | None, str | None]:
    """``newsletter.state``: a SQLite file's path (relative to the instance), or a PostgreSQL URL, which
    NEWSLETTER_DATABASE_URL (``database_url``) wins over; returned as (path, URL)."""
    state = c.text(kp, raw)
    if state and state.startswith(("postgresql://", "postgres://")):
        if ":" in state.split("://", 1)[1].split("@", 1)[0] and "@" in state:
            c.warn(kp, "a password in sources.yaml ends up in git: set NEWSLETTER_DATABASE_URL instead")
        return None, database_url or state
    return state, database_url


def _timezone(c: Checker, kp: KeyPath, raw: Any) -> ZoneInfo:
    tzname = c.text(kp, raw) or Settings.timezone.key
    try:
        return ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        c.error(kp, _("unknown time zone '{name}'; use a name like Europe/Amsterdam").format(name=tzname))
        return Settings.timezone


def _sendgrid(c: Checker, kp: KeyPath, raw: Any) -> SendGrid:
    sg = c.mapping(kp, raw, _keys(SendGrid), (), "'sendgrid'") or {}
    region = c.text((*kp, "region"), sg.get("region")) or SendGrid.region
    if region not in ("global", "eu"):
        c.error((*kp, "region"), _("region '{region}' should be 'global' or 'eu'").format(region=region))
    group = c.integer((*kp, "unsubscribe_group"), sg.get("unsubscribe_group"), minimum=1)
    timeout = c.integer((*kp, "timeout"), sg.get("timeout"), minimum=1)
    settle = c.integer((*kp, "settle"), sg.get("settle"), minimum=0)
    cats = c.seq((*kp, "categories"), sg.get("categories"), "'categories'")
    categories = tuple(t for i, v in enumerate(cats) if (t := c.text((*kp, "categories", i), v)))
    return SendGrid(
        region=region,
        unsubscribe_group=group,
        categories=categories,
        timeout=float(timeout or SendGrid.timeout),
        settle=float(SendGrid.settle if settle is None else settle),
    )


def _coverage(c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy) -> Coverage:
    cov = c.mapping(kp, raw, _keys(Coverage), ()) or {}
    sectors = c.refs((*kp, "essential_sectors"), cov.get("essential_sectors"), tax.sectors, "sector")
    themes = c.refs((*kp, "essential_themes"), cov.get("essential_themes"), tax.themes, "theme")
    max_share = cov.get("max_share", Coverage.max_share)
    if not isinstance(max_share, int | float) or isinstance(max_share, bool) or not 0 < max_share <= 1:
        c.error((*kp, "max_share"), _("max_share should be a fraction between 0 and 1, such as 0.5"))
        max_share = Coverage.max_share
    return Coverage(sectors, themes, float(max_share))


def _collect(c: Checker, kp: KeyPath, raw: Any) -> Limits:
    col = c.mapping(kp, raw, Limits.KEYS, ()) or {}
    given: dict[str, Any] = {}
    for key in Limits.KEYS:
        if key in col:
            value: bool | int | None
            if key == "allow_private_addresses":
                value = c.boolean((*kp, key), col[key])
            else:
                value = c.integer((*kp, key), col[key], minimum=0 if key == "retries" else 1)
            if value is not None:
                given[key] = value
    return Limits(**given)


def _delivery(c: Checker, kp: KeyPath, raw: Any) -> Delivery:
    dl = c.mapping(kp, raw, _keys(Delivery), (), "'delivery'") or {}
    hold = (
        c.integer((*kp, "hold_minutes"), dl.get("hold_minutes"), minimum=15) if "hold_minutes" in dl else None
    )
    ahead = (
        c.integer((*kp, "schedule_ahead_minutes"), dl.get("schedule_ahead_minutes"), minimum=15)
        if "schedule_ahead_minutes" in dl
        else None
    )
    hold = hold or Delivery.hold_minutes
    ahead = ahead or Delivery.schedule_ahead_minutes
    if ahead < hold:
        message = _(
            "schedule_ahead_minutes ({ahead}) is less than hold_minutes ({hold}); make it at least the hold"
            " plus the interval cron runs at"
        )
        c.error(kp, message.format(ahead=ahead, hold=hold))
    elif ahead > 72 * 60 - 60:
        c.error(
            kp, _("schedule_ahead_minutes is more than SendGrid holds mail (72 hours); use fewer minutes")
        )
    return Delivery(hold, ahead)


def _monitoring(c: Checker, kp: KeyPath, raw: Any, tax: Taxonomy) -> MonitoringSettings:
    mon = c.mapping(kp, raw, _keys(MonitoringSettings), ()) or {}
    kind = MonitoringSettings.kind
    if mon.get("kind") is not None:
        kind = c.ref((*kp, "kind"), mon["kind"], tax.kinds, "kind") or kind
    return MonitoringSettings(kind)


def _signup(c: Checker, kp: KeyPath, raw: Any) -> Signup:
    s = c.mapping(kp, raw, _keys(Signup), (), "'signup'") or {}
    url = c.url((*kp, "public_url"), s.get("public_url")) if s.get("public_url") is not None else None
    text = c.text((*kp, "consent_text"), s.get("consent_text"), max_len=1000)
    version = c.text((*kp, "consent_version"), s.get("consent_version"))
    numbers = {
        key: c.integer((*kp, key), s.get(key), minimum=1) or getattr(Signup, key)
        for key in ("link_days", "per_client_per_hour", "per_address_per_day")
    }
    if s.get("consent_text") is not None and s.get("consent_version") is None:
        c.warn(kp, _("a consent text of your own needs its 'consent_version' (each confirmation records it)"))
    public = url.rstrip("/") if url else None
    return Signup(public, text or Signup.consent_text, version or Signup.consent_version, **numbers)


def _plain_language(
    c: Checker, kp: KeyPath, raw: Any, root: Path, read_text: Callable[[Path], str]
) -> PlainLanguage:
    p = c.mapping(kp, raw, _keys(PlainLanguage), (), "'plain_language'") or {}
    if not p:
        return PlainLanguage()
    enabled = c.boolean((*kp, "enabled"), p.get("enabled"))
    limits = {}
    for key in ("max_sentence_words", "max_word_syllables", "min_flesch_douma"):
        value = c.integer((*kp, key), p.get(key), minimum=0 if key == "min_flesch_douma" else 1)
        limits[key] = getattr(PlainLanguage, key) if value is None else value
    skip = _rules_skipped(c, (*kp, "skip"), p.get("skip"))
    allow = {
        w.lower() for i, v in enumerate(c.seq((*kp, "allow"), p.get("allow"), "'allow'"))
        if (w := c.text((*kp, "allow", i), v))
    }  # fmt: skip
    pairs: list[tuple[str, str]] = []
    name = c.text((*kp, "stadhuistaal"), p.get("stadhuistaal"))
    if name:
        pairs = _word_list(c, (*kp, "stadhuistaal"), name, root, read_text)
    return PlainLanguage(
        enabled=PlainLanguage.enabled if enabled is None else enabled,
        skip=frozenset(skip),
        allow=frozenset(allow),
        stadhuistaal=tuple(pairs),
        **limits,
    )


def _rules_skipped(c: Checker, kp: KeyPath, raw: Any) -> set[str]:
    skip = set()
    for i, v in enumerate(c.seq(kp, raw, "'skip'")):
        name = c.text((*kp, i), v)
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
            c.error((*kp, i), message.format(name=name, close=close, rules=", ".join(RULES)))
    return skip


def _word_list(
    c: Checker, kp: KeyPath, name: str, root: Path, read_text: Callable[[Path], str]
) -> list[tuple[str, str]]:
    """The instance's own stadhuistaal list (``plain_language.stadhuistaal``), its problems reported."""
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
        c.error(kp, message.format(name=name))
        return []
    found, problems = parse_word_list(text, display_path(path, root))
    c.problems.extend(problems)
    return found


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


def _partners(c: Checker, raw: Any, tax: Taxonomy) -> dict[str, Partner]:
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
    if settings is not None and taxonomy.kinds and settings.monitoring.kind not in taxonomy.kinds:
        pledged = next((i for i, p in enumerate(partners.values()) if p.pledge), None)
        if pledged is not None:
            kind = settings.monitoring.kind
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
