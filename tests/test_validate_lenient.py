"""What a partner (not a programmer) naturally writes, as `newsletter validate` reads it (issue 22):
ids by their display name or in capitals, Dutch dates, Dutch keys reported once with what to rename
them to, an indentation mistake named as one, a publication date after today. And collect takes in
what validate accepted, with the canonical ids and dates.

Every test runs the command as a partner does (a separate process) and compares whole lines,
written out by hand. The clock is fixed with validate's hidden ``--now``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import newsletter

from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

NOW = "2026-12-07 09:00"  # validate's clock in every test: after every date below but the future one
AMS = ZoneInfo("Europe/Amsterdam")
KNOWN_KEYS = (
    "Known keys: partner, title, summary, url, kind, themes, provinces, published, starts, ends, location, "
    "image, ervaringsdeskundigen, horizon, contact"
)

# A story as a partner writes it without looking up a single id.
LENIENT = """\
partner: Gemeente Zwolle
title: Elk kind op de fiets
summary: Kinderen krijgen een opgeknapte fiets.
url: https://www.zwolle.example.nl/lenient
kind: verhaal
themes: [Meedoen, Onderwijs]
provinces: [Overijssel, Fryslân]
horizon: Verzachten
published: 18-11-2026
"""

# A progress file written the same way.
PROGRESS = """\
partner: Leerplicht Rotterdam
period: 2026
activities:
  - title: Armoede herkennen bij verzuim
    summary: Alle leerplichtambtenaren volgden een training.
    themes: Signaleren, onderwijs
    horizon: VERANDEREN
    province: Zuid-Holland
    reach: {children: 200}
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def validate(root: Path, path: Path, now: str = NOW) -> tuple[int, list[str], str]:
    result = newsletter(root, "validate", "--now", now, str(path))
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.splitlines(), result.stdout


def problems(root: Path, name: str, text: str) -> list[str]:
    code, lines, _ = validate(root, write(root, name, text))
    assert code == 1, lines
    assert lines[-1].startswith("Error: ")
    return lines[:-1]


# -- ids by name, in capitals ------------------------------------------------------------------------
def test_ids_by_their_display_name_and_in_capitals_are_valid(demo_root: Path) -> None:
    code, lines, out = validate(demo_root, write(demo_root, "submissions/lenient.yaml", LENIENT))
    assert (code, lines, out) == (0, [], "OK: submissions/lenient.yaml is valid.\n")
    friesland = LENIENT.replace("[Overijssel, Fryslân]", "overijssel, Friesland")  # the id, as a text
    code, lines, out = validate(demo_root, write(demo_root, "submissions/friesland.yaml", friesland))
    assert (code, lines, out) == (0, [], "OK: submissions/friesland.yaml is valid.\n")


def test_a_progress_file_with_names_is_valid(demo_root: Path) -> None:
    path = write(demo_root, "monitoring/2026/leerplicht-rotterdam.yaml", PROGRESS)
    code, lines, out = validate(demo_root, path)
    assert (code, lines, out) == (0, [], "OK: monitoring/2026/leerplicht-rotterdam.yaml is valid.\n")


def test_a_name_two_ids_share_is_an_error_naming_both(demo_root: Path) -> None:
    src = demo_root / "sources.yaml"
    text = src.read_text(encoding="utf-8")
    theme = "    - {id: signaleren, title: Signaleren, keywords: [signaleren, signalering]}\n"
    assert theme in text
    src.write_text(text.replace(theme, theme + "    - {id: vroeg, title: Signaleren}\n"), encoding="utf-8")
    story = LENIENT.replace("[Meedoen, Onderwijs]", "[meedoen, Signaleren]")
    assert problems(demo_root, "submissions/both.yaml", story) == [
        "submissions/both.yaml:6: 'Signaleren' could be the theme 'signaleren' or 'vroeg'; write the id of the "
        "one you mean",
    ]


def test_an_unknown_name_still_gets_the_suggestion(demo_root: Path) -> None:
    assert problems(
        demo_root, "submissions/typo.yaml", LENIENT.replace("Gemeente Zwolle", "Gemeente Zwole")
    ) == [
        "submissions/typo.yaml:1: unknown partner 'Gemeente Zwole': did you mean 'gemeente-zwolle'? Known "
        "partners: gemeente-zwolle, "
        "jgz-fryslan, leergeld-brabant, laptopfabriek, leerplicht-rotterdam, samen-alliantie, "
        "woningcorporatie-oost",
    ]


# -- Dutch dates -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    ["18-11-2026", "18/11/2026", "18 november 2026", "18 nov 2026", "18-11-2026 10:00", "'2026-11-18'"],
)
def test_dutch_dates_are_valid(demo_root: Path, written: str) -> None:
    path = write(demo_root, "submissions/datum.yaml", LENIENT.replace("18-11-2026", written))
    assert validate(demo_root, path) == (0, [], "OK: submissions/datum.yaml is valid.\n")


def test_an_event_with_dutch_dates_and_times(demo_root: Path) -> None:
    event = LENIENT.replace("kind: verhaal", "kind: Bijeenkomst") + (
        "starts: 10 december 2026 om 19:30\nends: 10-12-2026 21.30 uur\nlocation: Stadkamer\n"
    )
    path = write(demo_root, "submissions/event.yaml", event)
    assert validate(demo_root, path) == (0, [], "OK: submissions/event.yaml is valid.\n")
    backwards = event.replace("21.30 uur", "18:00")
    assert problems(demo_root, "submissions/event.yaml", backwards) == [
        "submissions/event.yaml:11: 'ends' (2026-12-10 18:00) is not after 'starts' (2026-12-10 19:30)"
    ]


def test_a_dutch_date_that_does_not_exist_and_one_that_is_no_date(demo_root: Path) -> None:
    assert problems(demo_root, "submissions/d.yaml", LENIENT.replace("18-11-2026", "31-11-2026")) == [
        "submissions/d.yaml:9: 'published' is not a real date: 31-11-2026 (day is out of range for month); "
        "check the day and month (the day comes first)",
    ]
    assert problems(demo_root, "submissions/d.yaml", LENIENT.replace("18-11-2026", "volgende week")) == [
        "submissions/d.yaml:9: 'published' should be a date like 10-12-2026 or a date and time like 10-12-2026 "
        "19:30, not 'volgende week'",
    ]


# -- Dutch keys, once --------------------------------------------------------------------------------
def test_dutch_keys_are_reported_once_with_what_to_rename_them_to(demo_root: Path) -> None:
    dutch = """\
organisatie: gemeente-zwolle
titel: Elk kind op de fiets
samenvatting: Kinderen krijgen een opgeknapte fiets.
link: https://www.zwolle.example.nl/lenient
soort: story
thema's: [meedoen]
datum: 2026-11-18
afbeelding: {url: https://www.zwolle.example.nl/fiets.jpg, alt: Een fiets, consent: true}
"""
    assert problems(demo_root, "submissions/nl.yaml", dutch) == [
        "submissions/nl.yaml:1: unknown key 'organisatie': rename it to 'partner' (the keys are English)",
        "submissions/nl.yaml:2: unknown key 'titel': rename it to 'title' (the keys are English)",
        "submissions/nl.yaml:3: unknown key 'samenvatting': rename it to 'summary' (the keys are English)",
        "submissions/nl.yaml:4: unknown key 'link': rename it to 'url' (the keys are English)",
        "submissions/nl.yaml:5: unknown key 'soort': rename it to 'kind' (the keys are English)",
        "submissions/nl.yaml:6: unknown key 'thema's': rename it to 'themes' (the keys are English)",
        "submissions/nl.yaml:7: unknown key 'datum': rename it to 'published' (the keys are English)",
        "submissions/nl.yaml:8: unknown key 'afbeelding': rename it to 'image' (the keys are English)",
    ]


def test_a_renamed_key_is_still_checked_and_capitals_and_doubles_are_named(demo_root: Path) -> None:
    text = LENIENT.replace("themes: [Meedoen, Onderwijs]", "themas: [onderwys]").replace("title:", "Title:")
    text += "begint: 10-12-2026\ntitel: Nog een titel\n"
    assert problems(demo_root, "submissions/nl.yaml", text) == [
        "submissions/nl.yaml:2: unknown key 'Title': write it as 'title' (keys are lower case)",
        "submissions/nl.yaml:6: unknown key 'themas': rename it to 'themes' (the keys are English)",
        "submissions/nl.yaml:6: unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: meedoen, "
        "fijn-thuis, ervaringskennis, inkomen-schulden, wonen, gezondheid, onderwijs, werk, signaleren",
        "submissions/nl.yaml:10: unknown key 'begint': rename it to 'starts' (the keys are English)",
        "submissions/nl.yaml:10: 'starts' and 'ends' are for events; set 'kind: event'",
        "submissions/nl.yaml:11: unknown key 'titel': it means 'title', which is on line 2 too; keep one",
    ]


def test_a_misspelt_required_key_is_reported_once(demo_root: Path) -> None:
    text = LENIENT.replace("summary:", "sumary:")
    assert problems(demo_root, "submissions/typo.yaml", text) == [
        f"submissions/typo.yaml:3: unknown key 'sumary': did you mean 'summary'? {KNOWN_KEYS}",
    ]


def test_counts_written_beside_reach_in_a_progress_file(demo_root: Path) -> None:
    text = PROGRESS.replace("    reach: {children: 200}\n", "    kinderen: 200\n    gezinnen: 80\n")
    text = text.replace("period: 2026", "periode: 2026")
    assert problems(demo_root, "monitoring/2026/leerplicht-rotterdam.yaml", text) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:2: unknown key 'periode': rename it to 'period' (the keys "
        "are English)",
        "monitoring/2026/leerplicht-rotterdam.yaml:9: unknown key 'kinderen': a number reached goes under "
        "'reach:', as 'children' (reach: {children: 120})",
        "monitoring/2026/leerplicht-rotterdam.yaml:10: unknown key 'gezinnen': a number reached goes under "
        "'reach:', as 'families' (reach: {families: 120})",
    ]


# -- YAML mistakes -----------------------------------------------------------------------------------
REST = " (the rest of the file is checked once this is fixed)"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("title:", " title:",
         "2: line 2 is indented differently from the lines above it: start 'title:' at the same place as "
         "'partner:' on line 1"),
        ("partner:", " partner:", "1: line 1 starts with a space: start 'partner:' at the beginning of the line"),
        ("summary:", "   summary:",
         "3: line 3 is indented differently from the lines above it: start 'summary:' at the same place as "
         "'title:' on line 2"),
        ("horizon: Verzachten", "image:\n  url: https://www.zwolle.example.nl/a.jpg\n alt: Fiets",
         "10: line 10 is indented differently from the lines above it: start 'alt:' at the same place as "
         "'url:' on line 9"),
        ("title: Elk kind op de fiets", "title: Fiets: voor iedereen",
         "2: not valid YAML: mapping values are not allowed here; a value containing ': ' must be put in quotes"),
    ],
)  # fmt: skip
def test_an_indentation_mistake_is_named_as_one(demo_root: Path, old: str, new: str, expected: str) -> None:
    assert old in LENIENT
    assert problems(demo_root, "submissions/y.yaml", LENIENT.replace(old, new)) == [
        f"submissions/y.yaml:{expected}{REST}"
    ]


def test_a_misaligned_activity_in_a_progress_file(demo_root: Path) -> None:
    text = PROGRESS.replace("    province:", "     province:")
    assert problems(demo_root, "monitoring/2026/leerplicht-rotterdam.yaml", text) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:8: line 8 is indented differently from the lines above it: "
        f"start 'province:' at the same place as 'horizon:' on line 7{REST}",
    ]
    text = PROGRESS + "  - title: Tweede\n    summary: Iets.\n    themes: [werk]\n"
    text = text.replace("  - title: Tweede", " - title: Tweede")
    assert problems(demo_root, "monitoring/2026/leerplicht-rotterdam.yaml", text) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:10: line 10 is indented differently from the lines above it: "
        f"start its '-' at the same place as the '-' on line 4{REST}",
    ]


# -- a publication date after today ----------------------------------------------------------------
def test_a_publication_date_after_today_is_a_warning(demo_root: Path) -> None:
    path = write(demo_root, "submissions/later.yaml", LENIENT.replace("18-11-2026", "18-11-2027"))
    assert validate(demo_root, path) == (
        0,
        ["submissions/later.yaml:9: warning: 'published' is 2027-11-18, after today (2026-12-07); check the "
         "date and year"],
        "OK: submissions/later.yaml is valid, 1 warning.\n",
    )  # fmt: skip
    same_day = write(demo_root, "submissions/today.yaml", LENIENT.replace("18-11-2026", "7-12-2026 17:00"))
    assert validate(demo_root, same_day) == (0, [], "OK: submissions/today.yaml is valid.\n")
    # Late in the evening in Amsterdam is the next day there: 23:30 UTC on 6 December is 7 December.
    assert validate(demo_root, same_day, now="2026-12-06T23:30+00:00")[0:2] == (0, [])
    assert validate(demo_root, same_day, now="2026-12-06T22:30+00:00")[1] == [
        "submissions/today.yaml:9: warning: 'published' is 2026-12-07, after today (2026-12-06); check the "
        "date and year"
    ]


# -- collect takes in what validate accepted ---------------------------------------------------------
def test_collect_takes_a_lenient_file_in_with_the_canonical_ids_and_dates(demo_root: Path) -> None:
    event = LENIENT.replace("kind: verhaal", "kind: Bijeenkomst") + (
        "starts: 10 december 2026 om 19:30\nends: 10-12-2026 21.30 uur\nlocation: Stadkamer\n"
    )
    write(demo_root, "submissions/lenient.yaml", event)
    write(demo_root, "monitoring/2026/leerplicht-rotterdam.yaml", PROGRESS)
    for source in ("submissions", "monitoring:leerplicht-rotterdam"):
        result = newsletter(demo_root, "collect", "--source", source)
        assert result.returncode == 0, result.stderr
    with Store(load_config(demo_root).settings.state) as store:
        (item,) = [i for i in store.items() if i.url == "https://www.zwolle.example.nl/lenient"]
        (activity,) = [i for i in store.items() if i.title == "Armoede herkennen bij verzuim"]
    assert (item.partner, item.kind, item.themes, item.provinces, item.horizon) == (
        "gemeente-zwolle", "event", ("meedoen", "onderwijs"), ("overijssel", "friesland"), "verzachten",
    )  # fmt: skip
    assert item.published == dt.datetime(2026, 11, 18, tzinfo=AMS)
    assert item.starts == dt.datetime(2026, 12, 10, 19, 30, tzinfo=AMS)
    assert item.ends == dt.datetime(2026, 12, 10, 21, 30, tzinfo=AMS)
    assert (activity.partner, activity.themes, activity.provinces, activity.horizon) == (
        "leerplicht-rotterdam", ("signaleren", "onderwijs"), ("zuid-holland",), "veranderen",
    )  # fmt: skip


def test_a_broken_progress_file_is_still_the_partner_it_names(demo_root: Path) -> None:
    from pipeline.infra.instance import read_monitoring

    # Named as a partner writes it, in a file whose name says nothing: the report still knows whose it is.
    path = write(
        demo_root, "monitoring/2026/voortgang.yaml", PROGRESS.replace("period: 2026", "period: 2026-Q3")
    )
    monitoring = read_monitoring(load_config(demo_root), [path])
    assert [(b.path, b.partner, b.year) for b in monitoring.broken] == [
        ("monitoring/2026/voortgang.yaml", "leerplicht-rotterdam", 2026)
    ]
