"""The instance's settings: ``sources.yaml``, parsed, checked once and turned into typed values
(``check_config_doc``; reading the file is ``pipeline.infra.instance.load_config``).

The settings are one typed tree (``Settings``), each section of ``newsletter:`` a frozen dataclass
with its defaults next to its fields (``SendGrid``, ``Limits``, ``Delivery``, ``Signup``, ...): the
checks read the user's YAML into them once, and a bad value gets a problem naming its line and the
fix. Every later stage receives a ``Config``, never the raw YAML.

The package: ``settings`` (the tree and its sections), ``taxonomy`` (the lists and their terms, and
their check), ``partners`` (partners, feeds and submission sources, and their checks); this module is
the entry every importer uses (``Config``, and the names of the others) and the check of the whole
file: ``check_config_doc``, and ``newsletter:`` read into the settings tree, each section by its own
function, a bad value reported with its line and the fix, a key left out keeping its default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.domain.config.partners import (
    FEED_KIND,
    PLEDGE_MAX,
    SUBMISSIONS,
    FeedSource,
    Partner,
    Pledge,
    SubmissionSource,
    horizon_ref,
    read_partners,
    read_sources,
    read_submissions,
    submission_source,
)
from pipeline.domain.config.settings import (
    ALL,
    RULE_NAMES,
    RULES,
    Coverage,
    Delivery,
    Limits,
    Logo,
    MonitoringSettings,
    PlainLanguage,
    PortalSettings,
    ReportSettings,
    SendGrid,
    Settings,
    Signup,
    parse_word_list,
)
from pipeline.domain.config.taxonomy import (
    NATIONWIDE,
    PROVINCES,
    REQUIRED_LISTS,
    TAXONOMY_LISTS,
    SectionTerm,
    Taxonomy,
    Term,
    Terms,
    ThemeTerm,
    read_taxonomy,
)
from pipeline.domain.errors import Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.schema import Checker, suggest_one
from pipeline.domain.yamldoc import KeyPath, YamlDoc

CONFIG_FILE = "sources.yaml"


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


def check_config_doc(
    doc: YamlDoc, root: Path, *, read_text: Callable[[Path], str], database_url: str | None
) -> tuple[Config | None, list[Problem]]:
    """Check the parsed ``sources.yaml`` of the instance at ``root``; return the config (None when
    unusable) and every problem. ``read_text`` reads a word list the settings name (a UTF-8 text
    file in the instance); ``database_url`` is NEWSLETTER_DATABASE_URL, which wins over the file's."""
    c = Checker(doc)
    top = c.mapping((), doc.data, ("newsletter", "taxonomy", "partners", "sources", "submissions"),
                    ("newsletter", "taxonomy"), CONFIG_FILE) or {}  # fmt: skip
    taxonomy = read_taxonomy(c, top.get("taxonomy"))
    settings = _settings(c, top.get("newsletter"), root, taxonomy, read_text, database_url)
    partners = read_partners(c, top.get("partners"), taxonomy)
    sources = read_sources(c, top.get("sources"), taxonomy, partners)
    submissions = read_submissions(c, top.get("submissions"), root, partners)
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


# -- newsletter: read into the settings tree ------------------------------------------------------
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


__all__ = [
    "ALL", "CONFIG_FILE", "FEED_KIND", "NATIONWIDE", "PLEDGE_MAX", "PROVINCES", "REQUIRED_LISTS", "RULES",
    "RULE_NAMES", "SUBMISSIONS", "TAXONOMY_LISTS", "Config", "Coverage", "Delivery", "FeedSource", "Limits",
    "Logo", "MonitoringSettings", "Partner", "PlainLanguage", "Pledge", "PortalSettings", "ReportSettings",
    "SectionTerm", "SendGrid", "Settings", "Signup", "SubmissionSource", "Taxonomy", "Term", "Terms",
    "ThemeTerm", "check_config_doc", "horizon_ref", "parse_word_list", "submission_source",
]  # fmt: skip
