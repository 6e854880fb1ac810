"""Progress files (monitoring/): the format, every kind of bad file with its exact message, the
pledge in sources.yaml, periods, overlaps between files, and activities as newsletter candidates."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from conftest import Cli

from pipeline.collect import collect
from pipeline.domain.monitoring import Period, Reach, activity_id, counts_in, skeleton
from pipeline.domain.yamldoc import parse
from pipeline.infra.instance import load_config, read_monitoring
from pipeline.infra.store import Store

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)

GOOD = """\
partner: leerplicht-rotterdam
period: 2026
activities:
  - title: Armoede herkennen bij verzuim
    summary: Alle leerplichtambtenaren volgden de training.
    themes: [signaleren, onderwijs]
    horizon: veranderen
    reach: {children: 200, families: 150, professionals: 38}
    ervaringsdeskundigen: true
    effects: Verzuim door schoolkosten wordt besproken in plaats van beboet.
"""


def write(root: Path, name: str, text: str, year: str = "2026") -> Path:
    path = root / "monitoring" / year / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(cli: Cli, path: Path) -> list[str]:
    result = cli("validate", str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("Error: ")
    return lines[:-1]


# -- one file -----------------------------------------------------------------------------------
def test_a_good_file_is_valid_and_read_whole(cli: Cli, demo_root: Path) -> None:
    path = write(demo_root, "leerplicht-rotterdam.yaml", GOOD)
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: monitoring/2026/leerplicht-rotterdam.yaml is valid.\n"
    monitoring = read_monitoring(load_config(demo_root), [path])
    (progress,) = monitoring.reports
    assert (progress.partner, progress.period, progress.period_line) == (
        "leerplicht-rotterdam",
        Period(2026),
        2,
    )
    (activity,) = progress.activities
    assert activity.reach == Reach(200, 150, 38)
    # No province given: where the partner is.
    assert (activity.province, activity.horizon, activity.ervaringsdeskundigen) == (
        "zuid-holland",
        "veranderen",
        True,
    )
    assert activity.line == 4


def test_the_demo_flawed_file_as_a_partner_sees_it(cli: Cli, demo_root: Path) -> None:
    flawed = (demo_root / "flawed-progress" / "leerplicht-rotterdam.yaml").read_text(encoding="utf-8")
    path = write(demo_root, "leerplicht-rotterdam.yaml", flawed)
    assert problems_of(cli, path) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:4: 'period' should be a year (2026) or a half year "
        "(2026-H1 or 2026-H2), not '2026-Q3'",
        "monitoring/2026/leerplicht-rotterdam.yaml:8: unknown theme 'onderwys': did you mean 'onderwijs'? Known "
        "themes: meedoen, fijn-thuis, ervaringskennis, inkomen-schulden, wonen, gezondheid, onderwijs, werk, "
        "signaleren",
        "monitoring/2026/leerplicht-rotterdam.yaml:10: 'children' should be a whole number such as 120, not "
        "'ongeveer 200'; give your best estimate as a number",
        "monitoring/2026/leerplicht-rotterdam.yaml:10: unknown key 'gezinnen' in 'reach': did you mean "
        "'families'? The keys are English. Known keys: children, families, professionals",
        "monitoring/2026/leerplicht-rotterdam.yaml:10: 'professionals' cannot be negative (-3); give how many "
        "were reached, or leave it out",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("leerplicht-rotterdam", "leerplicht-rotterdm"),
         "1: unknown partner 'leerplicht-rotterdm': did you mean 'leerplicht-rotterdam'? Known partners: "
         "gemeente-zwolle, jgz-fryslan, leergeld-brabant, laptopfabriek, leerplicht-rotterdam, samen-alliantie, "
         "woningcorporatie-oost"),
        (("period: 2026", "period: 2026-H3"),
         "2: 'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not '2026-H3'"),
        (("period: 2026", "period: 2026-07-01"),
         "2: 'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not 2026-07-01"),
        (("period: 2026", "period: 1926"),
         "2: 'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not 1926"),
        (("horizon: veranderen", "horizon: verandering"),
         "7: unknown horizon 'verandering': did you mean 'veranderen'? Known horizons: verzachten, versterken, "
         "veranderen"),
        (("children: 200", "children: -5"),
         "8: 'children' cannot be negative (-5); give how many were reached, or leave it out"),
        (("children: 200", "children: 1.200"),
         "8: 'children' should be a whole number such as 1200 (write it without a thousands separator), not 1.2"),
        (("children: 200", "children: true"),
         "8: 'children' should be a whole number such as 120, not True; give your best estimate as a number"),
        (("children: 200", "children: "),
         "8: 'children' is empty; give a number, or leave the line out"),
        (("children: 200", "kids: 200"),
         "8: unknown key 'kids' in 'reach': Known keys: children, families, professionals"),
        (("{children: 200, families: 150, professionals: 38}", "veel"),
         "8: 'reach' should be a mapping such as {children: 120, families: 80}, not text"),
        (("ervaringsdeskundigen: true", "ervaringsdeskundigen: ja"),
         "9: 'ervaringsdeskundigen' should be true or false, not 'ja'"),
        (("    effects:", "    effect:"), "10: unknown key 'effect': rename it to 'effects' (the keys are English)"),
        (("    effects:", "    efects:"),
         "10: unknown key 'efects': did you mean 'effects'? Known keys: title, summary, themes, horizon, province, "
         "reach, ervaringsdeskundigen, effects, url"),
        (("themes: [signaleren, onderwijs]", "themes: []"), "6: 'themes' is empty; it is required"),
        (("title: Armoede herkennen bij verzuim", "title: Armoede <b>herkennen</b>"),
         "4: the title is plain text; remove the HTML tags"),
    ],
)  # fmt: skip
def test_each_kind_of_bad_file_gets_its_line_and_the_fix(
    cli: Cli, demo_root: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(demo_root, "leerplicht-rotterdam.yaml", GOOD.replace(old, new))
    assert problems_of(cli, path) == [f"monitoring/2026/leerplicht-rotterdam.yaml:{expected}"]


def test_structure_problems(cli: Cli, demo_root: Path) -> None:
    path = write(
        demo_root,
        "leerplicht-rotterdam.yaml",
        "partner: leerplicht-rotterdam\nactivities: []\nperiode: 2026\n",
    )
    assert problems_of(cli, path) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:2: 'activities' is empty; it is required",
        "monitoring/2026/leerplicht-rotterdam.yaml:3: unknown key 'periode': rename it to 'period' (the keys are "
        "English)",
    ]
    twice = GOOD + GOOD[GOOD.index("  - title") :].replace("reach: {children: 200", "reach: {children: 20")
    path = write(demo_root, "leerplicht-rotterdam.yaml", twice)
    assert problems_of(cli, path) == [
        "monitoring/2026/leerplicht-rotterdam.yaml:11: activity 'Armoede herkennen bij verzuim' is listed twice "
        "(first on line 4): its reach would count twice; merge the two, or give each its own title",
    ]
    path = write(demo_root, "leerplicht-rotterdam.yaml", "partner: [x\n")
    (line,) = problems_of(cli, path)
    assert line.startswith("monitoring/2026/leerplicht-rotterdam.yaml:2: not valid YAML: ")


def test_warnings_for_the_folder_the_name_and_a_partner_without_pledge(cli: Cli, demo_root: Path) -> None:
    text = GOOD.replace("leerplicht-rotterdam", "woningcorporatie-oost")
    path = write(demo_root, "oost.yaml", text, year="2025")
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "monitoring/2025/oost.yaml:1: warning: 'woningcorporatie-oost' has no pledge in sources.yaml yet; the "
        "report shows this progress without one (ask the coordinator to add the pledge)",
        "monitoring/2025/oost.yaml:1: warning: the file name does not start with the partner id "
        "'woningcorporatie-oost'; name it monitoring/2026/woningcorporatie-oost.yaml, so that the coordinator "
        "finds it",
        "monitoring/2025/oost.yaml:2: warning: this file is in the folder for 2025, but its period is 2026; move "
        "it to monitoring/2026/woningcorporatie-oost.yaml",
    ]
    assert result.stdout == "OK: monitoring/2025/oost.yaml is valid, 3 warnings.\n"


def test_overlapping_periods_of_one_partner_are_refused_with_the_other_file(
    cli: Cli, demo_root: Path
) -> None:
    # jgz-fryslan reported 2026-H1 and 2026-H2 in the demo; a whole-year file would count them twice.
    yearly = (
        (demo_root / "monitoring" / "2026" / "jgz-fryslan-h1.yaml").read_text().replace("2026-H1", "2026")
    )
    path = write(demo_root, "jgz-fryslan.yaml", yearly)
    assert problems_of(cli, path) == [
        "monitoring/2026/jgz-fryslan.yaml:2: 'jgz-fryslan' reported for 2026-H1 already in "
        "monitoring/2026/jgz-fryslan-h1.yaml: the same months would count twice; put everything in one file, or "
        "use 2026-H1 and 2026-H2 only",
    ]
    monitoring = read_monitoring(load_config(demo_root))
    assert [b.path for b in monitoring.broken] == ["monitoring/2026/jgz-fryslan.yaml"]
    assert monitoring.reported("jgz-fryslan") == [Period(2026, 1), Period(2026, 2)]


def test_validate_without_paths_checks_the_progress_files_too(cli: Cli, demo_root: Path) -> None:
    result = cli("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 11 files are valid.\n"  # sources.yaml, 5 submissions, 5 progress files
    write(
        demo_root,
        "laptopfabriek.yaml",
        GOOD.replace("leerplicht-rotterdam", "laptopfabriek").replace("38", "-1"),
    )
    result = cli("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "monitoring/2026/laptopfabriek.yaml:8: 'professionals' cannot be negative (-1); give how many were "
        "reached, or leave it out",
        "Error: 1 error, 0 warnings in 1 of 12 files.",
    ]


# -- the pledge and the monitoring contact in sources.yaml ---------------------------------------
def test_pledge_and_contact_in_the_registry(demo_root: Path) -> None:
    config = load_config(demo_root)
    zwolle = config.partners["gemeente-zwolle"]
    assert zwolle.pledge is not None
    assert (zwolle.pledge.themes, zwolle.pledge.horizon, zwolle.pledge.since) == (
        ("meedoen", "onderwijs"),
        "verzachten",
        dt.date(2023, 5, 1),
    )
    assert (
        zwolle.monitoring_contact is not None
        and zwolle.monitoring_contact.email == "monitoring@zwolle.example.nl"
    )
    assert "monitoring@" not in repr(zwolle)  # the contact stays out of every repr and log line
    assert config.partners["woningcorporatie-oost"].pledge is None
    assert config.settings.monitoring.kind == "voortgang"


def test_pledge_problems_in_sources_yaml(cli: Cli, demo_root: Path) -> None:
    src = demo_root / "sources.yaml"
    text = src.read_text(encoding="utf-8")
    text = text.replace(
        "      themes: [meedoen, onderwijs]\n      horizon: verzachten\n      since: 2023-05-01",
        "      themes: [meedoen, onderwys]\n      horizon: verzachtn\n      since: mei 2023",
    )
    text = text.replace("{name: Pieter Mulder, email: monitoring@zwolle.example.nl}", "{name: Pieter Mulder}")
    text = text.replace("monitoring@jgz-fryslan.example.nl", "monitoring(at)jgz-fryslan.example.nl")
    text = text.replace("    pledge: {text: Mensen met", "    pledge: {tekst: Mensen met")
    src.write_text(text, encoding="utf-8")
    lines = cli("validate", "sources.yaml").stderr.splitlines()
    assert [x.split(": ", 1)[1] for x in lines[:-1]] == [
        "unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: meedoen, fijn-thuis, ervaringskennis, "
        "inkomen-schulden, wonen, gezondheid, onderwijs, werk, signaleren",
        "unknown horizon 'verzachtn': did you mean 'verzachten'? Known horizons: verzachten, versterken, veranderen",
        "'since' should be a date like 2026-03-01, not 'mei 2023'",
        "'email' is missing; 'monitoring_contact' needs it",
        "'monitoring(at)jgz-fryslan.example.nl' is not an email address (name@example.nl)",
        "unknown key 'tekst': rename it to 'text' (the keys are English)",
    ]
    assert lines[-1] == "Error: 6 errors, 0 warnings in 1 of 1 file."


def test_a_monitoring_kind_the_taxonomy_lacks(cli: Cli, demo_root: Path) -> None:
    src = demo_root / "sources.yaml"
    text = src.read_text(encoding="utf-8").replace("    - {id: voortgang, title: Voortgang}", "")
    text = text.replace("kinds: [voortgang], limit: 2}", "kinds: [story], limit: 2}")
    src.write_text(text, encoding="utf-8")
    result = cli("validate", "sources.yaml")
    assert result.exit_code == 0, result.output
    (warning,) = result.stderr.splitlines()
    assert warning.endswith(
        "warning: partners report progress on their pledge, and its activities become newsletter candidates of "
        "kind 'voortgang', which taxonomy.kinds does not have: add {id: voortgang, title: Voortgang} to "
        "taxonomy.kinds and 'voortgang' to a section's 'kinds', or set newsletter.monitoring.kind"
    )
    src.write_text(text.replace("  report:\n", "  monitoring: {kind: stroy}\n  report:\n"), encoding="utf-8")
    result = cli("validate", "sources.yaml")
    assert result.exit_code == 1
    assert "unknown kind 'stroy': did you mean 'story'?" in result.stderr


# -- periods ------------------------------------------------------------------------------------
def test_periods_their_days_and_where_they_count() -> None:
    assert Period.parse(2026) == Period(2026) and Period.parse("2026-h2") == Period(2026, 2)
    assert [Period.parse(v) for v in ("2026-Q1", "26", True, 2026.0, "2026-H0")] == [None] * 5
    year, h1, h2 = Period(2026), Period(2026, 1), Period(2026, 2)
    assert (year.first_day, year.last_day, year.middle) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
        dt.date(2026, 7, 2),
    )
    assert (h1.last_day, h1.middle, h2.first_day, h2.middle) == (
        dt.date(2026, 6, 30),
        dt.date(2026, 4, 1),
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 30),
    )
    assert (str(h1), h2.title, year.title) == ("2026-H1", "tweede helft 2026", "2026")
    assert year.overlaps(h1) and not h1.overlaps(h2) and not year.overlaps(Period(2025))
    # The demo's last twelve months (1 December 2025 to 26 November 2026) count the 2026 files.
    start, end = dt.date(2025, 12, 1), dt.date(2026, 11, 26)
    assert [counts_in(p, start, end) for p in (year, h1, h2, Period(2025), Period(2025, 2))] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # Two half-year reports count the year's file in exactly one of them (the second).
    assert [counts_in(year, p.first_day, p.last_day) for p in (h1, h2)] == [False, True]
    assert year.missing_from([]) == year
    assert year.missing_from([h1]) == h2
    assert year.missing_from([h1, h2]) is None and h1.missing_from([year]) is None
    assert h2.missing_from([Period(2025)]) == h2


def test_the_skeleton_names_the_pledge_and_does_not_validate_until_filled(demo_root: Path) -> None:
    config = load_config(demo_root)
    text = skeleton(config, "leerplicht-rotterdam", Period(2026, 2))
    assert "#   Elke leerplichtambtenaar leert armoede herkennen en bespreken;" in text
    assert "#   newsletter validate monitoring/2026/leerplicht-rotterdam-h2.yaml" in text
    from pipeline.domain.monitoring import check_progress_doc

    shown = "monitoring/2026/leerplicht-rotterdam-h2.yaml"
    progress, problems = check_progress_doc(parse(text, shown), config)
    assert progress is None
    assert [p.message for p in problems if p.is_error] == [
        "'title' is empty; it is required",
        "'summary' is empty; it is required",
        "'children' is empty; give a number, or leave the line out",
        "'families' is empty; give a number, or leave the line out",
        "'professionals' is empty; give a number, or leave the line out",
    ]
    filled = (
        text.replace("  - title:  ", "  - title: Training")
        .replace("    summary:  ", "    summary: Alle ambtenaren")
        .replace("      children:  ", "      children: 12")
        .replace("      families:\n", "")
        .replace("      professionals:\n", "")
    )
    progress, problems = check_progress_doc(parse(filled, shown), config)
    assert problems == [] and progress is not None
    assert progress.period == Period(2026, 2)
    assert progress.activities[0].themes == ("signaleren", "onderwijs")  # the pledge's themes
    assert progress.activities[0].horizon == "veranderen"


# -- activities as newsletter candidates ---------------------------------------------------------
def test_collect_makes_candidates_of_the_activities_once(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        summary = collect(config, store, only="monitoring", now=NOW)
        assert summary.line().startswith("1 source: 1 fetched, 0 unchanged, 0 failed; 8 new items")
        items = {i.title: i for i in store.items(kind="voortgang")}
        assert len(items) == 8
        fiets = items["Kinderfietsenplan"]
        assert fiets.id == activity_id("gemeente-zwolle", Period(2026), "Kinderfietsenplan")
        assert (fiets.partner, fiets.source, fiets.origin) == (
            "gemeente-zwolle",
            "monitoring:gemeente-zwolle",
            "monitoring",
        )
        assert fiets.url == "https://www.zwolle.example.nl/fietsplan"
        assert fiets.summary_html == (
            "<p>Kinderen uit gezinnen met een laag inkomen kregen een opgeknapte fiets, een slot en een fietsles.</p>"
            "<p>Wat het opleverde: Meer kinderen komen op tijd op school en gaan na schooltijd zelf naar de "
            "sportclub.</p><p>Bereikt in 2026: 120 kinderen en 80 gezinnen.</p>"
        )
        assert (fiets.themes, fiets.provinces, fiets.horizon, fiets.ervaringsdeskundigen) == (
            ("meedoen",),
            ("overijssel",),
            "verzachten",
            True,
        )
        # Without a url of its own: the partner's kennisbank page, with a fragment that names the activity.
        assert items["Schuldhulp aan de keukentafel"].url == (
            "https://nieuwsbrief.example.org/archief/partner/gemeente-zwolle/#voortgang-2026-schuldhulp-aan-de-keukentafel"
        )
        assert (
            "1.450 kinderen, 1.200 gezinnen en 62 professionals"
            in items["Vroegsignalering op het consultatiebureau"].summary_text
        )
        # Collected again a day later: nothing new, nothing changed, still dated when first seen.
        again = collect(config, store, only="monitoring", now=NOW + dt.timedelta(days=1))
        assert (again.new, again.updated) == (0, 0)
        assert store.get_item(fiets.id).published == NOW  # type: ignore[union-attr]


def test_an_activity_with_a_storys_link_leaves_the_story_as_it_is(demo_root: Path) -> None:
    path = demo_root / "monitoring" / "2026" / "gemeente-zwolle.yaml"
    path.write_text(
        path.read_text().replace(
            "https://www.zwolle.example.nl/fietsplan", "https://www.zwolle.example.nl/nieuws/fietsplan"
        ),
        encoding="utf-8",
    )
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        collect(config, store, now=NOW)
        (story,) = [i for i in store.items() if i.url.endswith("/nieuws/fietsplan")]
        assert story.origin == "submission" and story.title == "Elk kind op de fiets naar school"
        assert len(store.items(kind="voortgang")) == 7


def test_a_broken_progress_file_is_skipped_and_named(cli: Cli, demo_root: Path) -> None:
    write(
        demo_root,
        "laptopfabriek.yaml",
        GOOD.replace("leerplicht-rotterdam", "laptopfabriek").replace("200", "-2"),
    )
    result = cli("collect", "--source", "monitoring")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "monitoring/2026/laptopfabriek.yaml:8: 'children' cannot be negative (-2); give how many were reached, or "
        "leave it out"
    ]
    assert result.stdout.startswith(
        "Collected 1 source: 1 fetched, 0 unchanged, 0 failed; 8 new items, 0 updated; "
        "1 progress file skipped ("
    )
    one = cli("collect", "--source", "monitoring:jgz-fryslan")
    assert one.exit_code == 0, one.output


def test_the_draft_offers_activities_in_the_section_that_takes_them(demo_root: Path) -> None:
    from pipeline import curate
    from pipeline.infra.instance import load_issue

    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        # Only the progress files: in the small demo every partner's stories would take its two
        # places in the issue (the cap), and the activities would all be runners-up.
        collect(config, store, only="monitoring", now=NOW)
        curate.draft(config, store, "2026-12", now=NOW)
        issue = load_issue(config, "2026-12")
        voortgang = next(s for s in issue.sections if s.id == "voortgang")
        kinds = {store.get_item(e.item).kind for e in voortgang.items if e.item}  # type: ignore[union-attr]
        assert kinds == {"voortgang"} and len(voortgang.items) == 2
    text = (demo_root / "issues" / "2026-12.yaml").read_text(encoding="utf-8")
    # Each entry's comment: the partner, the kind, and the partner's own words to judge it by.
    assert re.search(r"^ +# Gemeente Zwolle · .* · Voortgang · ", text, re.M)
    assert re.search(r"^ +# .*\. Wat het opleverde: ", text, re.M)


# -- the demo -----------------------------------------------------------------------------------
def test_the_demo_shows_the_flawed_progress_file_and_its_report_the_monitoring(tmp_path: Path) -> None:
    from pipeline import demo

    lines: list[str] = []
    result = demo.run(tmp_path / "demo", lines.append)
    assert result.ok, "\n".join(lines)
    # Summarised in one line; each message at its line is in the validate tests of the flawed file.
    assert (
        "  monitoring/2026/leerplicht-rotterdam.yaml: 5 errors: a quarter as period, a misspelt theme,"
        " 'ongeveer 200' as a number, a Dutch key, a negative number"
    ) in lines
    assert not (result.root / "monitoring" / "2026" / "leerplicht-rotterdam.yaml").exists()  # set aside again
    assert lines[-1] == (
        "[report] build/report/index.html and 20 CSV files: 12 items from 6 of 7 partners; progress from 4 of 6"
        " partners; 1 partner to call; 4 readers clicked"
    )
    page = (result.root / "build" / "report" / "index.html").read_text(encoding="utf-8")
    assert "<dd>3.125</dd>" in page and "<dd>2.195</dd>" in page
    # The monitoring contacts are in sources.yaml only: in nothing the demo built, sent or stored.
    contacts = [
        p.monitoring_contact.email for p in load_config(result.root).partners.values() if p.monitoring_contact
    ]
    assert len(contacts) == 5
    for path in [*(result.root / "build").rglob("*.*"), *(result.root / "outbox").rglob("*.eml")]:
        text = path.read_bytes().decode("utf-8", "replace")
        assert not [c for c in contacts if c and c in text], path


def test_a_horizon_where_the_taxonomy_has_none_is_named_with_the_fix(cli: Cli, demo_root: Path) -> None:
    sources = demo_root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    horizons = (
        "  horizons:\n    - {id: verzachten, title: Verzachten}\n    - {id: versterken, title: Versterken}\n"
        "    - {id: veranderen, title: Veranderen}\n"
    )
    assert horizons in text
    sources.write_text(text.replace(horizons, ""), encoding="utf-8")
    problems = problems_of(cli, sources)
    assert len(problems) == 6  # the demo's six pledges with a horizon: each refused with the fix, on its line
    for line in problems:
        assert re.fullmatch(
            r"sources\.yaml:\d+: this newsletter has no 'horizons' in its taxonomy; remove 'horizon'", line
        ), line
