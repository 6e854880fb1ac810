"""The settings tree (``newsletter:`` in sources.yaml): ``Settings`` and its sections, each a frozen
dataclass holding its own defaults (``SendGrid``, ``Limits``, ``Delivery``, ``Signup``, ...), and the
plain-language rules' names and word-list format the settings name. Reading the YAML into them is
``pipeline.domain.config`` (``check_config_doc``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _


@dataclass(frozen=True)
class Limits:
    """How much one source may take when collecting, and where it may be fetched from
    (``newsletter.collect`` in sources.yaml): limits that keep one slow or huge source from holding up
    a run."""

    timeout: float = 20  # seconds for the whole source, retries included
    max_bytes: int = 10_000_000
    # Requests at once over all hosts (per_host bounds each one). A warm run is a round of answers
    # per `concurrency` feeds: 256 brought 3,000 unchanged feeds from 2.96 to 2.12 s against 128, with
    # peak memory 74 -> 77 MB (bench/bench_collect.py, side by side).
    concurrency: int = 256
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
