"""The progress form (``/partners/voortgang/<year>``): the activities of a year, into
``monitoring/<year>/<partner-id>.yaml`` as a partner would write it, checked by the code
``newsletter validate`` runs, pre-filled from the partner's file of that year or else the one before.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.domain import monitoring
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, display_path
from pipeline.domain.i18n import using
from pipeline.domain.yamldoc import parse
from pipeline.infra.files import atomic_write
from pipeline.infra.store import PortalSession, Store
from pipeline.infra.yamlfile import load
from pipeline.portal import repo

MAX_ACTIVITIES = 12
REACH = monitoring.REACH  # children, families, professionals
TEXTS = ("title", "summary", "effects")
KEY_RE = re.compile(r"^(?:  - |    )([a-z]+):")


@dataclass(frozen=True)
class ActivityForm:
    title: str = ""
    summary: str = ""
    themes: tuple[str, ...] = ()
    horizon: str = ""
    reach: Mapping[str, str] = field(default_factory=dict)
    ervaringsdeskundigen: bool = False
    effects: str = ""

    def empty(self) -> bool:
        return not (self.title or self.summary or self.effects or any(self.reach.values()))


@dataclass(frozen=True)
class ProgressForm:
    activities: tuple[ActivityForm, ...] = ()
    from_previous: bool = False  # filled from the year before


def year_of(text: str, now: dt.datetime) -> int | None:
    """A year the form may be for: from 2000 up to next year."""
    if not re.fullmatch(r"[0-9]{4}", text or ""):
        return None
    year = int(text)
    return year if 2000 <= year <= now.year + 1 else None


def path_of(config: Config, partner: str, year: int) -> Path:
    return config.root / monitoring.file_name(partner, monitoring.Period(year))


def _from_file(config: Config, path: Path) -> ProgressForm | None:
    try:
        doc = load(path, path.name, max_bytes=monitoring.MAX_BYTES, instance=config.root)
    except InputInvalid:
        return None
    progress, _problems = monitoring.check_progress_doc(doc, config)
    if progress is None:
        return None
    acts = tuple(
        ActivityForm(
            a.title,
            a.summary,
            a.themes,
            a.horizon or "",
            {k: str(getattr(a.reach, k) or "") for k in REACH},
            a.ervaringsdeskundigen,
            a.effects or "",
        )
        for a in progress.activities
    )
    return ProgressForm(acts)


def halves(config: Config, partner: str, year: int) -> list[Path]:
    """The partner's half-year files of ``year``: a year file beside them would count months twice."""
    folder = config.root / monitoring.FOLDER / str(year)
    return [p for p in (folder / f"{partner}-h1.yaml", folder / f"{partner}-h2.yaml") if p.is_file()]


def prefilled(config: Config, partner: str, year: int) -> tuple[ProgressForm | None, str]:
    """The form for ``year``: the file of that year (and its digest), or the year before's
    activities (numbers and effects left empty: they are the new year's). None: the year's file
    has a mistake (changed by hand), and the form would overwrite it."""
    path = path_of(config, partner, year)
    if path.is_file():
        return _from_file(config, path), repo.digest(path.read_bytes())
    before = path_of(config, partner, year - 1)
    if before.is_file() and (old := _from_file(config, before)):
        acts = tuple(
            ActivityForm(a.title, a.summary, a.themes, a.horizon, {}, a.ervaringsdeskundigen)
            for a in old.activities
        )
        return ProgressForm(acts, from_previous=True), ""
    return ProgressForm(), ""


def read_form(fields: Mapping[str, list[str]]) -> ProgressForm:
    def one(key: str) -> str:
        got = fields.get(key) or [""]
        return got[-1].replace("\r\n", "\n").strip()[:4000]

    acts = []
    for i in range(MAX_ACTIVITIES):
        a = ActivityForm(
            title=one(f"a{i}_title"), summary=one(f"a{i}_summary"),
            themes=tuple(dict.fromkeys(t for t in fields.get(f"a{i}_themes", []) if t)),
            horizon=one(f"a{i}_horizon"), reach={k: one(f"a{i}_{k}") for k in REACH},
            ervaringsdeskundigen=one(f"a{i}_ervaringsdeskundigen") == "yes", effects=one(f"a{i}_effects"),
        )  # fmt: skip
        if not a.empty():
            acts.append(a)
    return ProgressForm(tuple(acts))


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _ids(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(v if re.fullmatch(r"[a-z0-9-]+", v) else _q(v) for v in values) + "]"


def to_yaml(config: Config, partner: str, year: int, form: ProgressForm) -> str:
    name = config.partners[partner].name
    shown = monitoring.file_name(partner, monitoring.Period(year))
    out = [
        f"# Voortgang van {name} in {year}, voor 'Partners in beeld' ({config.settings.title}).",
        "# Gemaakt in het partnerportaal (/partners/voortgang/); je mag het ook met de hand aanpassen.",
        f"# Controleer het bestand met:  newsletter validate {shown}",
        f"partner: {partner}",
        f"period: {year}                  # een jaar, of een half jaar: {year}-H1, {year}-H2",
        "activities:                   # wat je deed voor je toezegging; een blok per activiteit",
    ]
    for a in form.activities:
        out.append(f"  - title: {_q(a.title)}")
        out.append(f"    summary: {_q(a.summary)}")
        out.append(f"    themes: {_ids(a.themes)}")
        if a.horizon:
            out.append(
                f"    horizon: {_q(a.horizon) if not re.fullmatch(r'[a-z0-9-]+', a.horizon) else a.horizon}"
            )
        reach = {k: v for k, v in a.reach.items() if v}
        if reach:
            inner = ", ".join(
                f"{k}: {v if re.fullmatch(r'[0-9]{1,9}', v) else _q(v)}" for k, v in reach.items()
            )
            out.append(f"    reach: {{{inner}}}        # hoeveel kinderen, gezinnen, professionals")
        if a.ervaringsdeskundigen:
            out.append("    ervaringsdeskundigen: true  # mensen met ervaring met armoede deden mee")
        if a.effects:
            out.append(f"    effects: {_q(a.effects)}")
    if not form.activities:
        out[-1] = "activities: []"
    return "\n".join(out) + "\n"


def check(config: Config, partner: str, year: int, text: str) -> dict[str, list[str]]:
    """The problems of the file by the form's fields (``a0_title`` ...; ``form``: the whole)."""
    shown = monitoring.file_name(partner, monitoring.Period(year))
    errors: dict[str, list[str]] = {}
    with using("nl"):
        try:
            doc = parse(text.encode(), shown, max_bytes=monitoring.MAX_BYTES)
        except InputInvalid as e:
            return {"form": [p.message for p in e.problems]}
        _progress, problems = monitoring.check_progress_doc(doc, config)
    where: dict[int, str] = {}
    index = -1
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("  - "):
            index += 1
        m = KEY_RE.match(line)
        if m and index >= 0:
            where[n] = f"a{index}_{m.group(1)}"
    for p in problems:
        if p.is_error:
            errors.setdefault(where.get(p.line or 0, "form"), []).append(p.message)
    if not any(True for line in text.splitlines() if line.startswith("  - ")):
        errors.setdefault("form", []).append("Vul minstens één activiteit in.")
    if halves(config, partner, year):
        errors.setdefault("form", []).append(
            f"Je meldde over {year} al per half jaar. Een heel jaar erbij zou maanden dubbel tellen."
            " Vraag de redactie om je bestanden samen te voegen."
        )
    return errors


def save(
    config: Config, who: PortalSession, year: int, text: str, loaded: str,
    open_store: Callable[[], Store], now: dt.datetime,
) -> bool:  # fmt: skip
    """Write the file (under the writer's lock); returns True when it had changed since the form
    was loaded: then the partner's version is kept beside it, hidden, and the file stays."""
    path = path_of(config, who.partner, year)
    current = repo.digest(path.read_bytes()) if path.is_file() else ""
    shown = display_path(path, config.root)
    if current != loaded:
        aside = path.parent / f".{path.stem}-portaal-{now:%Y%m%dT%H%M%S}.yaml"
        atomic_write(aside, text)
        with open_store() as store:
            store.add_portal_save(who.partner, display_path(aside, config.root), "conflict", now)
        return True
    atomic_write(path, text)
    with open_store() as store:
        store.add_portal_save(who.partner, shown, "changed" if current else "new", now)
    repo.commit(config, [path], who, f"Voortgang {year}: {shown}")
    return False
