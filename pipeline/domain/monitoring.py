"""A partner's progress on its pledge: one YAML file per partner and period, checked (reading the
files: ``pipeline.infra.instance.read_monitoring``).

``monitoring/2026/gemeente-zwolle.yaml``::

    partner: gemeente-zwolle
    period: 2026                 # a year, or a half year: 2026-H1, 2026-H2
    activities:
      - title: Kinderfietsenplan
        summary: Kinderen uit gezinnen met een laag inkomen kregen een fiets.
        themes: [meedoen]
        horizon: verzachten
        reach: {children: 120, families: 80}
        ervaringsdeskundigen: true
        effects: Meer kinderen komen op tijd op school.

The checks give the same kind of messages as a submission's (``PATH:LINE``, the fix, near misses).
Across files one rule holds: a partner's periods do not overlap (a year and one of its halves, or
one period in two files), since the same months would otherwise count twice. Of two such files
the first in path order counts and the other is refused with the reason.

The report counts a file in a period when the middle day of the file's period falls in it
(``Period.middle``): a year on 2 July, a first half on 1 April, a second half on 30 September.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pipeline.domain import dutch
from pipeline.domain.config import Config, horizon_ref
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import N_, _, using
from pipeline.domain.lenient import matching_ids
from pipeline.domain.schema import Checker, type_name
from pipeline.domain.wrap import wrap_words
from pipeline.domain.yamldoc import KeyPath, YamlDoc

FOLDER = "monitoring"  # under the instance root: monitoring/<year>/<partner>.yaml
ORIGIN = "monitoring"  # the origin (and source prefix) of the items collect makes of activities
FIELDS = ("partner", "period", "activities")
ACTIVITY_FIELDS = (
    "title", "summary", "themes", "horizon", "province", "reach", "ervaringsdeskundigen", "effects", "url",
)  # fmt: skip
ACTIVITY_REQUIRED = ("title", "summary", "themes")
REACH = ("children", "families", "professionals")
# What a Dutch partner may write instead: the keys are English, like every other key.
REACH_IN_DUTCH = {
    "kinderen": "children", "kind": "children", "jongeren": "children", "gezinnen": "families",
    "ouders": "families", "huishoudens": "families", "professionals": "professionals",
    "professionele": "professionals", "medewerkers": "professionals",
}  # fmt: skip
TITLE_MAX = 120
TEXT_MAX = 800  # summary and effects: a few sentences each
MAX_BYTES = 64_000
PERIOD_RE = re.compile(r"^(\d{4})(?:-[Hh]([12]))?\Z")
FIRST_YEAR, LAST_YEAR = 2000, 2100
PERIOD_HELP = N_("a year (2026) or a half year (2026-H1 or 2026-H2)")  # translated where used


def source_id(partner: str | None = None) -> str:
    """The collect source id of progress files (``monitoring``) or of one partner's (``monitoring:ID``)."""
    return f"{ORIGIN}:{partner}" if partner else ORIGIN


# -- periods --------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Period:
    """A year (``half`` 0) or one of its halves (1: January to June, 2: July to December)."""

    year: int
    half: int = 0

    @classmethod
    def parse(cls, value: object) -> Period | None:
        """``2026``, ``"2026-H1"`` or ``"2026-h2"``; None for anything else."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        found = PERIOD_RE.match(str(value).strip())
        if not found or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
            return None
        return cls(int(found.group(1)), int(found.group(2) or 0))

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}" if self.half else str(self.year)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 7 if self.half == 2 else 1, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, 6, 30) if self.half == 1 else dt.date(self.year, 12, 31)

    @property
    def middle(self) -> dt.date:
        """The day that decides which report period a file counts in (one, and only one, of any
        reports that follow each other without a gap or an overlap)."""
        return self.first_day + (self.last_day - self.first_day) // 2

    @property
    def title(self) -> str:
        """In Dutch: ``2026``, ``eerste helft 2026``, ``tweede helft 2026``."""
        return {0: str(self.year), 1: f"eerste helft {self.year}", 2: f"tweede helft {self.year}"}[self.half]

    @property
    def halves(self) -> tuple[Period, ...]:
        return (Period(self.year, 1), Period(self.year, 2)) if not self.half else (self,)

    def overlaps(self, other: Period) -> bool:
        return self.year == other.year and (not self.half or not other.half or self.half == other.half)

    def missing_from(self, reported: Iterable[Period]) -> Period | None:
        """What of this period the ``reported`` periods leave open: itself, one half, or None."""
        done = list(reported)
        open_halves = [
            h for h in self.halves if not any(p.year == h.year and p.half in (0, h.half) for p in done)
        ]
        if not open_halves:
            return None
        return open_halves[0] if len(open_halves) == 1 else self


def counts_in(period: Period, start: dt.date, end: dt.date) -> bool:
    """Whether a file about ``period`` counts in a report from ``start`` to ``end`` (both included)."""
    return start <= period.middle <= end


# -- the file's values ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Reach:
    """How many children, families and professionals an activity reached (0: not given)."""

    children: int = 0
    families: int = 0
    professionals: int = 0

    def __add__(self, other: Reach) -> Reach:
        return Reach(
            self.children + other.children,
            self.families + other.families,
            self.professionals + other.professionals,
        )


@dataclass(frozen=True)
class Activity:
    title: str
    summary: str
    themes: tuple[str, ...]  # the first is the activity's main theme: the report counts it there
    province: str  # where it happened; the partner's province when the file does not say
    reach: Reach = field(default_factory=Reach)
    horizon: str | None = None
    ervaringsdeskundigen: bool = False
    effects: str | None = None  # in the partner's own words
    url: str | None = None
    line: int | None = None  # where it starts in its file


@dataclass(frozen=True)
class Progress:
    """One checked progress file: what a partner did on its pledge in one period."""

    path: str  # as the user would type it (relative to the instance root)
    partner: str
    period: Period
    activities: tuple[Activity, ...]
    period_line: int | None = None

    @property
    def reach(self) -> Reach:
        total = Reach()
        for a in self.activities:
            total += a.reach
        return total


def activity_id(partner: str, period: Period, title: str) -> str:
    """The stable item id of an activity: from who, when and its title, not from its link, so that
    adding a link later updates the same newsletter candidate."""
    key = f"{ORIGIN}:{partner}:{period}:{' '.join(title.casefold().split())}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def slug(text: str) -> str:
    """``Kinderfietsenplan 2.0!`` -> ``kinderfietsenplan-2-0``: for a link's #fragment."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "activiteit"


# -- checking one file ----------------------------------------------------------------------------
def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def _count(c: Checker, kp: KeyPath, value: Any) -> int | None:
    key = str(kp[-1])
    if value is None:
        c.error(kp, _("'{key}' is empty; give a number, or leave the line out").format(key=key))
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())  # "120" in quotes: the number is clear
    if isinstance(value, bool) or not isinstance(value, int | float):
        message = _(
            "'{key}' should be a whole number such as 120, not {value}; give your best estimate as a number"
        )
        c.error(kp, message.format(key=key, value=_shown(value)))
        return None
    if isinstance(value, float) and not value.is_integer():
        message = _(
            "'{key}' should be a whole number such as 1200 (write it without a thousands separator), "
            "not {value}"
        )
        c.error(kp, message.format(key=key, value=f"{value:g}"))
        return None
    if value < 0:
        message = _("'{key}' cannot be negative ({value}); give how many were reached, or leave it out")
        c.error(kp, message.format(key=key, value=int(value)))
        return None
    return int(value)


def _reach(c: Checker, kp: KeyPath, raw: Any) -> Reach:
    if not isinstance(raw, dict):
        message = _("'reach' should be a mapping such as {{children: 120, families: 80}}, not {type}")
        c.error(kp, message.format(type=type_name(raw)))
        return Reach()
    counts: dict[str, int] = {}
    for key, value in raw.items():
        if key not in REACH:
            english = REACH_IN_DUTCH.get(str(key).casefold())
            close = difflib.get_close_matches(str(key), REACH, n=1, cutoff=0.6)
            if english:
                message = _(
                    "unknown key '{key}' in 'reach': did you mean '{close}'? The keys are English. "
                    "Known keys: {known}"
                )
            elif close:
                message = _("unknown key '{key}' in 'reach': did you mean '{close}'? Known keys: {known}")
            else:
                message = _("unknown key '{key}' in 'reach': Known keys: {known}")
            hint = english or (close[0] if close else "")
            c.error((*kp, key), message.format(key=key, close=hint, known=", ".join(REACH)))
            continue
        n = _count(c, (*kp, key), value)
        if n is not None:
            counts[key] = n
    return Reach(**counts)


def _activity(c: Checker, kp: KeyPath, raw: Any, config: Config, partner: str | None) -> Activity | None:
    tax = config.taxonomy
    a = c.mapping(kp, raw, ACTIVITY_FIELDS, ACTIVITY_REQUIRED, _("each activity"))
    if a is None:
        return None
    title = c.text((*kp, "title"), a.get("title"), max_len=TITLE_MAX)
    if title and "<" in title and ">" in title:
        c.error((*kp, "title"), _("the title is plain text; remove the HTML tags"))
    summary = c.text((*kp, "summary"), a.get("summary"), max_len=TEXT_MAX)
    effects = c.text((*kp, "effects"), a.get("effects"), max_len=TEXT_MAX)
    themes = c.refs((*kp, "themes"), a.get("themes"), tax.themes, "theme")
    horizon = horizon_ref(c, kp, a, tax)
    province = c.ref((*kp, "province"), a.get("province"), tax.provinces, "province")
    if province is None and partner is not None and partner in config.partners:
        province = config.partners[partner].province
    reach = _reach(c, (*kp, "reach"), a["reach"]) if "reach" in a else Reach()
    ervaring = c.boolean((*kp, "ervaringsdeskundigen"), a.get("ervaringsdeskundigen"))
    url = c.url((*kp, "url"), a.get("url"))
    if not (title and summary and themes and province):
        return None
    return Activity(
        title, summary, themes, province, reach, horizon, bool(ervaring), effects or None, url,
        c.doc.line(*kp),
    )  # fmt: skip


def _file_name_warnings(c: Checker, shown: str, partner: str, period: Period) -> None:
    path = PurePath(shown)
    expected = f"{partner}-h{period.half}.yaml" if period.half else f"{partner}.yaml"
    folder = path.parent.name
    if re.fullmatch(r"\d{4}", folder) and int(folder) != period.year:
        message = _("this file is in the folder for {folder}, but its period is {period}; move it to {path}")
        c.warn(
            ("period",),
            message.format(folder=folder, period=period, path=f"{FOLDER}/{period.year}/{expected}"),
        )
    if not path.stem.startswith(partner):
        message = _(
            "the file name does not start with the partner id '{partner}'; name it {path}, so that the "
            "coordinator finds it"
        )
        c.warn(("partner",), message.format(partner=partner, path=f"{FOLDER}/{period.year}/{expected}"))


def check_progress_doc(doc: YamlDoc, config: Config) -> tuple[Progress | None, list[Problem]]:
    """Check one parsed progress file against the registry and the taxonomy; return it and every problem."""
    c = Checker(doc)
    m = c.mapping((), doc.data, FIELDS, FIELDS, _("a progress file"))
    if m is None:
        return None, c.problems
    partner = c.ref(("partner",), m.get("partner"), config.partners, "partner")
    period = None
    if m.get("period") is not None:
        period = Period.parse(m["period"])
        if period is None:
            message = _("'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not {value}")
            c.error(("period",), message.format(value=_shown(m["period"])))
    if partner and config.partners[partner].pledge is None:
        message = _(
            "'{partner}' has no pledge in sources.yaml yet; the report shows this progress without one "
            "(ask the coordinator to add the pledge)"
        )
        c.warn(("partner",), message.format(partner=partner))
    activities: list[Activity] = []
    titles: dict[str, int] = {}
    for i, raw in enumerate(c.seq(("activities",), m.get("activities"), "'activities'")):
        activity = _activity(c, ("activities", i), raw, config, partner)
        title = raw.get("title") if isinstance(raw, dict) else None
        if isinstance(title, str) and title.strip():
            key = " ".join(title.casefold().split())
            line = doc.line("activities", i, "title") or 0
            if key in titles:
                message = _(
                    "activity '{title}' is listed twice (first on line {line}): its reach would count twice; "
                    "merge the two, or give each its own title"
                )
                c.error(("activities", i, "title"), message.format(title=title.strip(), line=titles[key]))
                continue
            titles[key] = line
        if activity is not None:
            activities.append(activity)
    if partner and period:
        _file_name_warnings(c, doc.path, partner, period)
    if not c.ok or not (partner and period and activities):
        return None, c.problems
    return Progress(doc.path, partner, period, tuple(activities), doc.line("period")), c.problems


@dataclass(frozen=True)
class BrokenFile:
    """A progress file with errors: not counted. Whose it is, when that can be told."""

    path: str
    partner: str | None  # from the file, or else from its name
    year: int | None  # from its period, or else from its folder
    errors: tuple[Problem, ...]


def _owner(doc: YamlDoc | None, shown: str, config: Config) -> tuple[str | None, int | None]:
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    written = data.get("partner")
    partner = written if written in config.partners else None
    if partner is None and isinstance(written, str):  # by its name, as the checks read it
        found = matching_ids(written, config.partners)
        partner = found[0] if len(found) == 1 else None
    if partner is None:
        stem = re.sub(r"-h[12]$", "", PurePath(shown).stem)
        partner = stem if stem in config.partners else None
    period = Period.parse(data.get("period"))
    folder = PurePath(shown).parent.name
    year = period.year if period else int(folder) if re.fullmatch(r"\d{4}", folder) else None
    return partner, year


def _overlap(later: Progress, earlier: Progress) -> Problem:
    if later.period == earlier.period:
        message = _(
            "'{partner}' reported for the same period already in {path}: the same months would count twice; "
            "put everything in one file, or use {year}-H1 and {year}-H2 only"
        )
    else:
        message = _(
            "'{partner}' reported for {period} already in {path}: the same months would count twice; "
            "put everything in one file, or use {year}-H1 and {year}-H2 only"
        )
    text = message.format(
        partner=later.partner, period=earlier.period, path=earlier.path, year=later.period.year
    )
    return Problem(later.path, later.period_line, text)


@dataclass(frozen=True)
class Monitoring:
    """Every progress file of the instance, checked."""

    reports: tuple[Progress, ...]  # valid and not overlapping another, in path order
    problems: tuple[Problem, ...]  # of every file, warnings included
    broken: tuple[BrokenFile, ...]  # not counted: errors, or an overlap with an earlier file
    checked: tuple[str, ...] = ()  # every file read

    def reported(self, partner: str, year: int | None = None) -> list[Period]:
        return [r.period for r in self.reports if r.partner == partner and year in (None, r.period.year)]


@dataclass(frozen=True)
class ProgressFile:
    """One progress file, checked on its own: a valid report, or its problems and the file as broken."""

    shown: str
    progress: Progress | None
    problems: tuple[Problem, ...]
    broken: BrokenFile | None


def check_progress_file(
    shown: str, config: Config, doc: YamlDoc | None, unreadable: Sequence[Problem] = ()
) -> ProgressFile:
    """Check a parsed progress file, or one that could not be read (``doc`` None, ``unreadable``)."""
    if doc is None:
        progress, problems = None, list(unreadable)
    else:
        progress, problems = check_progress_doc(doc, config)
    if progress is not None:
        return ProgressFile(shown, progress, tuple(problems), None)
    partner, year = _owner(doc, shown, config)
    return ProgressFile(
        shown,
        None,
        tuple(problems),
        BrokenFile(shown, partner, year, tuple(p for p in problems if p.is_error)),
    )


def combine(files: Iterable[tuple[ProgressFile, bool]]) -> Monitoring:
    """The overlap rule over every file (in path order), and the result for the ones asked for (each
    file with whether it was): of two files whose periods overlap for one partner, the first counts."""
    accepted: list[Progress] = []  # every valid file so far, for the overlap rule
    reports: list[Progress] = []
    problems: list[Problem] = []
    broken: list[BrokenFile] = []
    checked: list[str] = []
    for file, wanted in files:
        progress, found, bad = file.progress, list(file.problems), file.broken
        if progress is not None:
            clash = next(
                (r for r in accepted if r.partner == progress.partner and r.period.overlaps(progress.period)),
                None,
            )
            if clash is None:
                accepted.append(progress)
            else:
                problem = _overlap(progress, clash)
                found = [*found, problem]
                bad = BrokenFile(file.shown, progress.partner, progress.period.year, (problem,))
                progress = None
        if not wanted:
            continue
        checked.append(file.shown)
        problems.extend(found)
        if progress is not None:
            reports.append(progress)
        if bad is not None:
            broken.append(bad)
    return Monitoring(tuple(reports), tuple(problems), tuple(broken), tuple(checked))


def by_partner(reports: Iterable[Progress]) -> Mapping[str, list[Progress]]:
    out: dict[str, list[Progress]] = {}
    for r in reports:
        out.setdefault(r.partner, []).append(r)
    return out


# -- a file to fill in ----------------------------------------------------------------------------
def file_name(partner: str, period: Period) -> str:
    """Where a partner's file for ``period`` goes: ``monitoring/2026/gemeente-zwolle-h2.yaml``."""
    name = f"{partner}-h{period.half}.yaml" if period.half else f"{partner}.yaml"
    return f"{FOLDER}/{period.year}/{name}"


def skeleton(config: Config, partner_id: str, period: Period) -> str:
    """A progress file for one partner and period, filled in as far as the registry knows: the partner,
    the period and the pledge's themes and horizon. Left as it is, it does not validate (the title,
    summary and numbers are empty), so an untouched copy can never count. Its comments are in the
    instance's language (the partner reads them), whatever the terminal's."""
    with using(config.settings.language):
        return _skeleton(config, partner_id, period)


def _commented(code: str, comment: str) -> str:
    """A line of the skeleton with its comment in the comment column."""
    return f"{code:<28}# {comment}" if len(code) < 27 else f"{code}    # {comment}"


def _skeleton(config: Config, partner_id: str, period: Period) -> str:
    partner = config.partners[partner_id]
    pledge = partner.pledge
    tax = config.taxonomy
    themes = list(pledge.themes) if pledge and pledge.themes else list(tax.themes)[:1]
    heading = _("Progress of {partner} in {period}, for 'Partners in beeld'\n({title}).")
    lines = [f"# {line}" for line in heading.format(
        partner=partner.name, period=period.title, title=config.settings.title
    ).splitlines()]  # fmt: skip
    if pledge:
        if pledge.since:
            said = _("Your pledge (since {date}):").format(date=dutch.date(pledge.since, weekday=False))
        else:
            said = _("Your pledge:")
        lines += ["#", f"# {said}", *(f"#   {line}" for line in wrap_words(pledge.text, 90))]
    how = _(
        "For each activity, fill in what you did, whom you reached and what it achieved; copy the\n"
        "block from '- title:' for each further activity. Check the file with:"
    )
    reach_note = _(
        "how many you reached, in whole numbers without a dot (1200);\nleave out what does not fit"
    )
    reach_first, _sep, reach_second = reach_note.partition("\n")
    lines += [
        "#",
        *(f"# {line}" for line in how.splitlines()),
        f"#   newsletter validate {file_name(partner_id, period)}",
        "# " + _("Themes (ids): {themes}.").format(themes=", ".join(tax.themes)),
        f"partner: {partner_id}",
        _commented(f"period: {period}", _("a year (2026) or a half year (2026-H1, 2026-H2)")),
        "activities:",
        _commented("  - title:", _("the name of the activity (at most 120 characters)")),
        _commented("    summary:", _("what you did and for whom, in a few sentences")),
        _commented(f"    themes: [{', '.join(themes)}]", _("the most important theme first")),
    ]
    if tax.horizons:
        horizon = pledge.horizon if pledge and pledge.horizon else next(iter(tax.horizons))
        lines.append(_commented(f"    horizon: {horizon}", ", ".join(tax.horizons)))
    lines += [
        _commented("    reach:", reach_first),
        _commented("      children:", reach_second) if reach_second else "      children:",
        "      families:",
        "      professionals:",
        _commented("    ervaringsdeskundigen: false", _("true if people with lived experience took part")),
        _commented("    effects:", _("what it achieved for children and families, in your own words")),
        _commented("    # url: https://...", _("a page about the activity (may be left out)")),
        _commented(f"    # province: {partner.province}", _("where it happened, if that was somewhere else")),
    ]
    return "\n".join(lines) + "\n"
