"""`newsletter validate` in Dutch (NEWSLETTER_LANG=nl) and in English (NEWSLETTER_LANG=en): the demo's
flawed files, a partner's five most common mistakes, sources.yaml and an issue file, and the comments
of the progress file that the reminder attaches. Every expected line is written here by hand.

The summary line at the end ("Fout: ..."/"Error: ...") belongs to the command line (pipeline/cli) and
is checked there; here only that there is one.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DEMO, newsletter, write_issue

from pipeline.domain import i18n
from pipeline.domain.monitoring import Period, skeleton
from pipeline.infra.instance import load_config

NL = {"NEWSLETTER_LANG": "nl"}
EN = {"NEWSLETTER_LANG": "en"}
THEMES = (
    "meedoen, fijn-thuis, ervaringskennis, inkomen-schulden, wonen, gezondheid, onderwijs, werk, signaleren"
)
FIELDS = (
    "partner, title, summary, url, kind, themes, provinces, published, starts, ends, location, image, "
    "ervaringsdeskundigen, horizon, contact"
)
PARTNERS = (
    "gemeente-zwolle, jgz-fryslan, leergeld-brabant, laptopfabriek, leerplicht-rotterdam, samen-alliantie, "
    "woningcorporatie-oost"
)


def problem_lines(root: Path, *files: str, env: dict[str, str]) -> list[str]:
    """What validate prints about ``files`` (relative to the instance), without the summary line
    (the command line's own)."""
    result = newsletter(root, "validate", *(str(root / f) for f in files), env=env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith(("Fout: ", "Error: ")), lines[-1]  # one summary line, at the end
    return lines[:-1]


def test_the_demos_flawed_submission_in_dutch_and_in_english(demo_root: Path) -> None:
    dutch = problem_lines(demo_root, "flawed/onze-moestuin.yaml", env=NL)
    assert dutch == [
        f"flawed/onze-moestuin.yaml:2: onbekende partner 'gemeente-zwole'. Bedoel je 'gemeente-zwolle'? "
        f"Kies uit: {PARTNERS}",
        "flawed/onze-moestuin.yaml:3: haal de HTML-tags weg: de titel is gewone tekst",
        "flawed/onze-moestuin.yaml:5: 'www.zwolle.example.nl/moestuin' is geen volledig webadres; schrijf het "
        "helemaal uit, met https:// ervoor",
        f"flawed/onze-moestuin.yaml:7: onbekend thema 'onderwys'. Bedoel je 'onderwijs'? Kies uit: {THEMES}",
        "flawed/onze-moestuin.yaml:8: 'published' is geen echte datum: 2026-11-31 (die dag bestaat niet in "
        "die maand). Kijk de dag en de maand na",
        "flawed/onze-moestuin.yaml:9: zet bij de afbeelding 'alt': een korte beschrijving voor lezers die de "
        "afbeelding niet kunnen zien",
        "flawed/onze-moestuin.yaml:9: waarschuwing: bij de afbeelding staat geen 'consent: true', dus komt die "
        "niet in de nieuwsbrief. Zet het erbij als iedereen die herkenbaar op de foto staat toestemming gaf "
        "(voor kinderen: hun ouders)",
        f"flawed/onze-moestuin.yaml:11: onbekend veld 'locaton'. Bedoel je 'location'? Kies uit: {FIELDS}",
    ]
    english = problem_lines(demo_root, "flawed/onze-moestuin.yaml", env=EN)
    assert english == [
        f"flawed/onze-moestuin.yaml:2: unknown partner 'gemeente-zwole': did you mean 'gemeente-zwolle'? "
        f"Known partners: {PARTNERS}",
        "flawed/onze-moestuin.yaml:3: the title is plain text; remove the HTML tags",
        "flawed/onze-moestuin.yaml:5: 'www.zwolle.example.nl/moestuin' is not a web address; write it in full, "
        "starting with https://",
        f"flawed/onze-moestuin.yaml:7: unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: {THEMES}",
        "flawed/onze-moestuin.yaml:8: 'published' is not a real date: 2026-11-31 (day is out of range for "
        "month); check the day and month",
        "flawed/onze-moestuin.yaml:9: the image needs 'alt': a short description for readers who cannot see it",
        "flawed/onze-moestuin.yaml:9: warning: the image has no 'consent: true', so it will not be published; "
        "add it once everyone recognisable in it (for children: their parents) agreed",
        f"flawed/onze-moestuin.yaml:11: unknown key 'locaton': did you mean 'location'? Known keys: {FIELDS}",
    ]


def test_the_demos_flawed_progress_file_in_dutch_and_in_english(demo_root: Path) -> None:
    # Where 'newsletter demo' puts it: a progress file is one when it is under monitoring/.
    shown = "monitoring/2026/leerplicht-rotterdam.yaml"
    shutil.copyfile(DEMO / "flawed-progress" / "leerplicht-rotterdam.yaml", demo_root / shown)
    assert problem_lines(demo_root, shown, env=NL) == [
        f"{shown}:4: schrijf bij 'period' een jaar (2026) of een half jaar (2026-H1 of 2026-H2), niet '2026-Q3'",
        f"{shown}:8: onbekend thema 'onderwys'. Bedoel je 'onderwijs'? Kies uit: {THEMES}",
        f"{shown}:10: schrijf bij 'children' een heel getal, zoals 120, niet 'ongeveer 200'; geef je beste "
        "schatting als getal",
        f"{shown}:10: onbekend veld 'gezinnen' onder 'reach'. Bedoel je 'families'? De velden zijn Engels. "
        "Kies uit: children, families, professionals",
        f"{shown}:10: 'professionals' kan niet negatief zijn (-3); schrijf hoeveel je er bereikte, of laat het "
        "weg",
    ]
    assert problem_lines(demo_root, shown, env=EN) == [
        f"{shown}:4: 'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not '2026-Q3'",
        f"{shown}:8: unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: {THEMES}",
        f"{shown}:10: 'children' should be a whole number such as 120, not 'ongeveer 200'; give your best "
        "estimate as a number",
        f"{shown}:10: unknown key 'gezinnen' in 'reach': did you mean 'families'? The keys are English. "
        "Known keys: children, families, professionals",
        f"{shown}:10: 'professionals' cannot be negative (-3); give how many were reached, or leave it out",
    ]


STORY = """\
partner: gemeente-zwolle
title: Elk kind een fiets
summary: Kinderen uit gezinnen met weinig geld krijgen een fiets.
url: https://www.zwolle.example.nl/fiets
kind: story
themes: [meedoen]
published: 2026-11-20
"""

# A partner's most common mistakes: (what goes wrong in STORY, the Dutch line, the English line).
MISTAKES = {
    "misspelt-key": (
        ("summary:", "sumary:"),
        f"3: onbekend veld 'sumary'. Bedoel je 'summary'? Kies uit: {FIELDS}",
        f"3: unknown key 'sumary': did you mean 'summary'? Known keys: {FIELDS}",
    ),
    "dutch-key": (
        ("title:", "titel:"),
        "2: onbekend veld 'titel'. Bedoel je 'title'? Schrijf de velden in het Engels",
        "2: unknown key 'titel': rename it to 'title' (the keys are English)",
    ),
    "wrong-theme": (
        ("[meedoen]", "[meedoen, onderwys]"),
        f"6: onbekend thema 'onderwys'. Bedoel je 'onderwijs'? Kies uit: {THEMES}",
        f"6: unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: {THEMES}",
    ),
    "no-date": (
        ("2026-11-20", "volgende week"),
        "7: schrijf bij 'published' een datum, zoals 10-12-2026, of een datum met tijd, zoals 10-12-2026 "
        "19:30. 'volgende week' is geen datum",
        "7: 'published' should be a date like 10-12-2026 or a date and time like 10-12-2026 19:30, not "
        "'volgende week'",
    ),
    "colon-in-value": (
        ("title: Elk", "title: Nieuw: elk"),
        "2: zet de waarde tussen aanhalingstekens (\"...\"), want er staat ': ' in (YAML zegt: mapping values "
        "are not allowed here). Daarna controleert validate de rest van het bestand",
        "2: not valid YAML: mapping values are not allowed here; a value containing ': ' must be put in quotes "
        "(the rest of the file is checked once this is fixed)",
    ),
    "indentation-slip": (
        ("\nurl:", "\n url:"),
        "4: laat 'url:' op dezelfde plek beginnen als 'summary:' op regel 3: regel 4 springt anders in dan de "
        "regels erboven (daarna controleert validate de rest van het bestand)",
        "4: line 4 is indented differently from the lines above it: start 'url:' at the same place as "
        "'summary:' on line 3 (the rest of the file is checked once this is fixed)",
    ),
    "missing-field": (
        ("kind: story\n", ""),
        "1: voeg 'kind' toe: een inzending heeft dat veld nodig",
        "1: 'kind' is missing; a submission needs it",
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_partners_common_mistake_in_dutch_and_in_english(demo_root: Path, name: str) -> None:
    (old, new), dutch, english = MISTAKES[name]
    assert old in STORY
    draft = demo_root / "concept" / f"{name}.yaml"  # a draft outside submissions/, as a partner checks it
    draft.parent.mkdir()
    draft.write_text(STORY.replace(old, new, 1), encoding="utf-8")
    shown = f"concept/{name}.yaml"
    assert problem_lines(demo_root, shown, env=NL) == [f"{shown}:{dutch}"]
    assert problem_lines(demo_root, shown, env=EN) == [f"{shown}:{english}"]


def test_sources_yaml_and_an_issue_file_in_dutch(demo_root: Path) -> None:
    sources = demo_root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    sources.write_text(text.replace("timezone: Europe/Amsterdam", "timezone: Europe/Amsterdm", 1), "utf-8")
    line = text.splitlines().index("  timezone: Europe/Amsterdam") + 1
    assert problem_lines(demo_root, "sources.yaml", env=NL) == [
        f"sources.yaml:{line}: onbekende tijdzone 'Europe/Amsterdm'; gebruik een naam zoals Europe/Amsterdam"
    ]
    sources.write_text(text, "utf-8")
    issue = write_issue(demo_root, "2026-12")
    issue.write_text(issue.read_text("utf-8").replace("id: 2026-12", "id: 2026-11"), "utf-8")
    assert problem_lines(demo_root, "issues/2026-12.yaml", env=NL) == [
        "issues/2026-12.yaml:1: verander id '2026-11' in '2026-12': de id moet gelijk zijn aan de bestandsnaam"
    ]
    assert problem_lines(demo_root, "issues/2026-12.yaml", env=EN) == [
        "issues/2026-12.yaml:1: id '2026-11' does not match the file name; change it to '2026-12'"
    ]


def test_the_progress_file_to_fill_in_speaks_the_instances_language(demo_root: Path) -> None:
    """The reminder's attachment is read by the partner: in the instance's language (nl), even when the
    person who runs 'monitor remind' reads English (the tests do)."""
    assert i18n.language() == "en"
    config = load_config(demo_root)
    text = skeleton(config, "leerplicht-rotterdam", Period(2026, 2))
    lines = text.splitlines()
    assert lines[:2] == [
        "# Voortgang van Leerplicht Rotterdam over tweede helft 2026, voor 'Partners in beeld'",
        "# (Nieuwsbrief Samen tegen Kinderarmoede (demo)).",
    ]
    assert "# Je toezegging (sinds 1 juni 2024):" in lines
    assert lines[lines.index("#   newsletter validate monitoring/2026/leerplicht-rotterdam-h2.yaml") - 2 :][
        :2
    ] == [
        "# Vul per activiteit in wat je deed, wie je bereikte en wat het opleverde. Kopieer het blok",
        "# vanaf '- title:' voor elke volgende activiteit. Controleer het bestand met:",
    ]
    assert "  - title:                  # de naam van de activiteit (hoogstens 120 tekens)" in lines
    assert "    reach:                  # hoeveel je bereikte, in hele getallen zonder punt (1200);" in lines
    assert "      children:             # laat weg wat niet past" in lines
    assert (
        "    effects:                # wat het opleverde voor kinderen en gezinnen, in je eigen woorden"
        in lines
    )
    assert i18n.language() == "en"  # the terminal's language again afterwards

    english = replace(config, settings=replace(config.settings, language="en"))
    text = skeleton(english, "leerplicht-rotterdam", Period(2026, 2))
    assert "# Your pledge (since 1 juni 2024):" in text.splitlines()
    assert (
        "  - title:                  # the name of the activity (at most 120 characters)" in text.splitlines()
    )
