"""The report's monitoring ("Voortgang op de toezeggingen"): numbers counted by hand for a fixture of
several partners, periods and themes; every view adds up to the same totals; the CSV files; the
partners' own words stay text.

The fixture, period 2026-01-01 to 2026-12-31 (a file counts when the middle of its period falls in it):

| file                          | period  | counts | activities (first theme, horizon, province: children/families/professionals, ED) |
| 2026/zwolle.yaml              | 2026    | yes    | Fietsplan (meedoen, verzachten, overijssel: 120/80/0, ED), Laptops (onderwijs,
|                               |         |        | verzachten, gelderland: 1200/900/0), Schuldhulp (meedoen, versterken, overijssel: 0/45/6, ED) |
| 2025/zwolle.yaml              | 2025    | no     | Oud (999 children) |
| 2026/ggd-h1.yaml              | 2026-H1 | yes    | Signaleren (gezondheid, versterken, friesland: 300/250/20, ED) |
| 2026/ggd-h2.yaml              | 2026-H2 | yes    | Ontbijt (gezondheid, no horizon, friesland: 80/0/0) |
| 2027/ggd-h1.yaml              | 2027-H1 | no     | Later (5 children) |
| 2026/zonder.yaml              | 2026    | yes    | Spreekuur (onderwijs, veranderen, utrecht: 0/0/12); its partner has no pledge |
| 2026/kapot.yaml               | 2026    | errors | (a negative reach) |
| 2026/zwolle2.yaml             | 2026-H2 | refused| overlaps zwolle's 2026 |

Totals: 4 files, 6 activities, 1.700 children, 1.275 families, 38 professionals, 3 with ED (50%).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Sent, make_item, seed
from test_report import filled_instance, write_instance

from pipeline.domain.config import Config, submission_source
from pipeline.domain.monitoring import Period, Reach, activity_id
from pipeline.infra.store import Store
from pipeline.report import ReachRow, Report, build_report, csv_files, summary_lines, write_report

START, END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
UTC = dt.UTC

PARTNERS = """\
  - id: zwolle
    name: Gemeente Zwolle
    sector: gemeenten
    province: overijssel
    pledge: {text: Elk kind doet mee., themes: [meedoen], horizon: verzachten, since: 2020-01-01}
    monitoring_contact: {name: Piet, email: piet.monitoring@zwolle.example.nl}
  - id: ggd
    name: GGD Fryslân
    sector: zorg
    province: friesland
    pledge: {text: Vroeg signaleren., themes: [gezondheid], horizon: versterken, since: 2026-03-01}
  - {id: leergeld, name: Stichting Leergeld, sector: welzijn, province: noord-brabant, pledge: {text: Later., since: 2027-01-01}}
  - {id: stil, name: Stille Stichting, sector: welzijn, province: gelderland, pledge: {text: Iets., since: 2021-01-01}}
  - {id: kapot, name: Kapot Bestand, sector: gemeenten, province: landelijk, pledge: {text: Iets anders.}}
  - {id: zonder, name: Zonder Toezegging, sector: zorg, province: utrecht}
  - {id: nooit, name: Nooit Actief, sector: gemeenten, province: landelijk}
"""

FILES = {
    "2026/zwolle.yaml": """\
partner: zwolle
period: 2026
activities:
  - {title: Fietsplan, summary: Fietsen., themes: [meedoen, onderwijs], horizon: verzachten,
     reach: {children: 120, families: 80}, ervaringsdeskundigen: true, effects: Op tijd op school.}
  - {title: Laptops, summary: Laptops., themes: [onderwijs], horizon: verzachten, province: gelderland,
     reach: {children: 1200, families: 900}}
  - {title: Schuldhulp, summary: Huisbezoek., themes: [meedoen], horizon: versterken,
     reach: {families: 45, professionals: 6}, ervaringsdeskundigen: true}
""",
    "2025/zwolle.yaml": "partner: zwolle\nperiod: 2025\nactivities:\n"
    "  - {title: Oud, summary: Vorig jaar., themes: [meedoen], reach: {children: 999}}\n",
    "2026/ggd-h1.yaml": "partner: ggd\nperiod: 2026-H1\nactivities:\n"
    "  - {title: Signaleren, summary: Gesprekskaart., themes: [gezondheid], horizon: versterken,\n"
    "     reach: {children: 300, families: 250, professionals: 20}, ervaringsdeskundigen: true}\n",
    "2026/ggd-h2.yaml": "partner: ggd\nperiod: 2026-H2\nactivities:\n"
    "  - {title: Ontbijt, summary: Ontbijt op school., themes: [gezondheid, meedoen], province: friesland,\n"
    "     reach: {children: 80}}\n",
    "2027/ggd-h1.yaml": "partner: ggd\nperiod: 2027-H1\nactivities:\n"
    "  - {title: Later, summary: Volgend jaar., themes: [gezondheid], reach: {children: 5}}\n",
    "2026/zonder.yaml": "partner: zonder\nperiod: 2026\nactivities:\n"
    "  - title: Spreekuur\n    summary: Een spreekuur op school.\n    themes: [onderwijs]\n"
    "    horizon: veranderen\n    reach: {professionals: 12}\n"
    "    effects: '=HYPERLINK(\"https://x.example\") <script>alert(1)</script> & meer'\n",
    "2026/kapot.yaml": "partner: kapot\nperiod: 2026\nactivities:\n"
    "  - {title: Kapot, summary: Iets., themes: [meedoen], reach: {children: -1}}\n",
    "2026/zwolle2.yaml": "partner: zwolle\nperiod: 2026-H2\nactivities:\n"
    "  - {title: Dubbel, summary: Nog eens., themes: [meedoen], reach: {children: 7}}\n",
}
FIETSPLAN = activity_id("zwolle", Period(2026), "Fietsplan")


def write_monitoring(root: Path, files: dict[str, str] = FILES) -> None:
    for name, text in files.items():
        path = root / "monitoring" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def fill(store: Store) -> None:
    items = [
        make_item("s1", dt.datetime(2026, 5, 10, 9, 0, tzinfo=UTC), partner="zwolle", origin="submission",
                  source=submission_source("zwolle"), themes=("meedoen",)),
        make_item("g1", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), partner="ggd", origin="submission",
                  source=submission_source("ggd")),
        # What collect made of the Fietsplan activity: a candidate, featured below; never a contribution.
        make_item(FIETSPLAN, dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC), partner="zwolle", origin="monitoring",
                  source="monitoring:zwolle", kind="voortgang", themes=("meedoen",), ervaringsdeskundigen=True),
    ]  # fmt: skip
    seed(
        store,
        items,
        [
            Sent(
                "2026-07",
                dt.datetime(2026, 7, 5, 8, 0, tzinfo=UTC),
                [("partners", "s1"), ("voortgang", FIETSPLAN)],
            )
        ],
    )


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    with filled_instance(tmp_path / "inst", fill, partners=PARTNERS, files=write_monitoring) as both:
        yield both


@pytest.fixture
def report(instance: tuple[Config, Store]) -> Report:
    config, store = instance
    return build_report(config, store, start=START, end=END)


def test_totals_counted_by_hand(report: Report) -> None:
    m = report.monitoring
    assert m is not None
    t = m.totals
    assert (t.files, t.activities, t.reach) == (4, 6, Reach(1700, 1275, 38))
    assert (t.ervaringsdeskundigen, t.ervaringsdeskundigen_share) == (3, 0.5)
    assert (t.partners, t.reported, len(m.missing)) == (5, 3, 2)  # reported + not yet = asked or reported
    assert t.featured == 1  # the Fietsplan, in the issue of July
    assert m.periods == ("2026", "2026-H1", "2026-H2")
    assert m.not_counted == ("monitoring/2026/kapot.yaml", "monitoring/2026/zwolle2.yaml")


def test_every_view_counted_by_hand_and_each_adds_up_to_the_totals(report: Report) -> None:
    m = report.monitoring
    assert m is not None

    def rows(view: tuple[ReachRow, ...]) -> dict[str, tuple[int, int, int, int, int]]:
        return {
            r.id: (r.activities, r.children, r.families, r.professionals, r.ervaringsdeskundigen)
            for r in view
            if r.activities
        }

    # Each activity under its first theme: the Fietsplan (meedoen, onderwijs) under meedoen only.
    assert rows(m.themes) == {
        "meedoen": (2, 120, 125, 6, 2), "onderwijs": (2, 1200, 900, 12, 0), "gezondheid": (2, 380, 250, 20, 1),
    }  # fmt: skip
    assert rows(m.horizons) == {
        "verzachten": (2, 1320, 980, 0, 1), "versterken": (2, 300, 295, 26, 2), "veranderen": (1, 0, 0, 12, 0),
        "onbekend": (1, 80, 0, 0, 0),
    }  # fmt: skip
    assert rows(m.sectors) == {"gemeenten": (3, 1320, 1025, 6, 2), "zorg": (3, 380, 250, 32, 1)}
    assert rows(m.provinces) == {
        "friesland": (2, 380, 250, 20, 1), "overijssel": (2, 120, 125, 6, 2), "gelderland": (1, 1200, 900, 0, 0),
        "utrecht": (1, 0, 0, 12, 0),
    }  # fmt: skip
    t = m.totals
    whole = (t.activities, t.reach.children, t.reach.families, t.reach.professionals, t.ervaringsdeskundigen)
    by_partner = [
        (len(r.activities), r.reach.children, r.reach.families, r.reach.professionals, r.ervaringsdeskundigen)
        for r in m.partners
    ]
    for view in (m.themes, m.horizons, m.sectors, m.provinces):
        sums = tuple(sum(x) for x in zip(*((r.activities, r.children, r.families, r.professionals,
                                             r.ervaringsdeskundigen) for r in view), strict=True))  # fmt: skip
        assert sums == whole
    assert tuple(sum(x) for x in zip(*by_partner, strict=True)) == whole
    # Zero rows stay (a gap is news); the "not given" horizon row comes last.
    assert [r.id for r in m.themes] == ["meedoen", "onderwijs", "gezondheid"]
    assert [r.id for r in m.horizons][-1] == "onbekend" and len(m.provinces) == 13


def test_per_partner_the_pledge_beside_what_it_reported_and_contributed(report: Report) -> None:
    m = report.monitoring
    assert m is not None
    got = {
        r.id: (r.pledge, r.asked, r.periods, len(r.activities), r.reach, r.items, r.featured, r.not_counted)
        for r in m.partners
    }
    assert got == {
        # One story in the period (s1, featured); the activity's candidate is not a contribution.
        "zwolle": ("Elk kind doet mee.", True, ("2026",), 3, Reach(1320, 1025, 6), 1, 1,
                   ("monitoring/2026/zwolle2.yaml",)),
        "ggd": ("Vroeg signaleren.", True, ("2026-H1", "2026-H2"), 2, Reach(380, 250, 20), 1, 0, ()),
        "kapot": ("Iets anders.", True, (), 0, Reach(), 0, 0, ("monitoring/2026/kapot.yaml",)),
        "stil": ("Iets.", True, (), 0, Reach(), 0, 0, ()),
        "zonder": (None, False, ("2026",), 1, Reach(0, 0, 12), 0, 0, ()),
    }  # fmt: skip
    # Leergeld's pledge starts in 2027 (not asked yet); Nooit Actief has neither pledge nor file.
    assert [r.name for r in m.partners] == [
        "Gemeente Zwolle", "GGD Fryslân", "Kapot Bestand", "Stille Stichting", "Zonder Toezegging",
    ]  # fmt: skip
    assert [r.id for r in m.missing] == ["kapot", "stil"]
    fiets = m.partners[0].activities[0]
    assert (fiets.title, fiets.themes, fiets.horizon, fiets.province, fiets.featured) == (
        "Fietsplan",
        ("Meedoen", "Onderwijs"),
        "Verzachten",
        "Overijssel",
        True,
    )


def test_activity_candidates_stay_out_of_the_newsletter_counts(report: Report) -> None:
    t = report.totals
    assert (t.partner_items, t.featured) == (2, 1)  # s1 and g1; the candidate FIETSPLAN is not counted
    zwolle = next(r for r in report.partners if r.id == "zwolle")
    # Its last contribution is the story of 10 May, not the candidate of 1 June: silent at year's end.
    assert (zwolle.items, zwolle.last_contribution, zwolle.silent) == (1, dt.date(2026, 5, 10), True)


def test_two_half_year_reports_count_every_file_once(instance: tuple[Config, Store]) -> None:
    config, store = instance
    first = build_report(config, store, start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30)).monitoring
    second = build_report(config, store, start=dt.date(2026, 7, 1), end=dt.date(2026, 12, 31)).monitoring
    assert first is not None and second is not None
    assert (first.periods, second.periods) == (("2026-H1",), ("2026", "2026-H2"))
    assert (first.totals.activities, second.totals.activities) == (1, 5)
    assert first.totals.reach + second.totals.reach == Reach(1700, 1275, 38)
    # The yearly file counts in the second half: in the first, Zwolle has not reported yet.
    assert [r.id for r in first.missing] == ["zwolle", "kapot", "stil"]


def test_without_pledges_or_progress_files_the_report_is_as_before(tmp_path: Path) -> None:
    config = write_instance(tmp_path / "inst")  # test_report's partners: no pledges, no monitoring/
    with Store(config.settings.state) as store:
        report = build_report(config, store, start=START, end=END)
    assert report.monitoring is None
    assert not [name for name in csv_files(report) if name.startswith("monitoring")]
    page = write_report(config, report, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert 'id="voortgang"' not in page


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_files(report: Report, instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "out"
    names = sorted(p.name for p in write_report(config, report, out)[1:])
    assert [n for n in names if n.startswith("monitoring")] == [
        "monitoring_activities.csv", "monitoring_horizons.csv", "monitoring_missing.csv",
        "monitoring_partners.csv", "monitoring_provinces.csv", "monitoring_sectors.csv", "monitoring_themes.csv",
    ]  # fmt: skip
    summary = {r["meting"]: r["waarde"] for r in read_csv(out / "summary.csv")}
    assert {k: summary[k] for k in ("voortgang_periodes", "activiteiten", "kinderen", "gezinnen", "professionals",
                                    "aandeel_activiteiten_met_ervaringsdeskundigen", "voortgang_niet_geteld")} == {
        "voortgang_periodes": "2026 2026-H1 2026-H2", "activiteiten": "6", "kinderen": "1700", "gezinnen": "1275",
        "professionals": "38", "aandeel_activiteiten_met_ervaringsdeskundigen": "0.5000", "voortgang_niet_geteld": "2",
    }  # fmt: skip
    assert summary["bijdragen_partners"] == "2"
    themes = read_csv(out / "monitoring_themes.csv")
    assert themes[0] == {"thema": "meedoen", "naam": "Meedoen", "activiteiten": "2", "kinderen": "120",
                         "gezinnen": "125", "professionals": "6", "met_ervaringsdeskundigen": "2"}  # fmt: skip
    assert sum(int(r["kinderen"]) for r in read_csv(out / "monitoring_provinces.csv")) == 1700
    partners = {r["partner"]: r for r in read_csv(out / "monitoring_partners.csv")}
    assert (
        partners["ggd"]["periodes"] == "2026-H1 2026-H2"
        and partners["ggd"]["toezegging_sinds"] == "2026-03-01"
    )
    assert (partners["zonder"]["gevraagd"], partners["zonder"]["toezegging"]) == ("nee", "")
    assert [r["partner"] for r in read_csv(out / "monitoring_missing.csv")] == ["kapot", "stil"]
    activities = read_csv(out / "monitoring_activities.csv")
    assert [(a["partner"], a["periode"], a["titel"]) for a in activities] == [
        ("zwolle", "2026", "Fietsplan"), ("zwolle", "2026", "Laptops"), ("zwolle", "2026", "Schuldhulp"),
        ("ggd", "2026-H1", "Signaleren"), ("ggd", "2026-H2", "Ontbijt"), ("zonder", "2026", "Spreekuur"),
    ]  # fmt: skip
    assert activities[0]["themas"] == "meedoen onderwijs" and activities[0]["uitgelicht"] == "ja"
    # A partner's text that starts like a formula is text in Excel.
    assert activities[-1]["effecten"].startswith("'=HYPERLINK(")


def test_the_page_shows_dutch_numbers_own_words_as_text_and_no_contact(
    report: Report, instance: tuple[Config, Store], tmp_path: Path
) -> None:
    config, _ = instance
    written = write_report(config, report, tmp_path / "out")
    page = written[0].read_text(encoding="utf-8")
    assert "<dd>1.700</dd>" in page and "<dd>1.275</dd>" in page
    assert "Bereik per thema: Meedoen: 120 kinderen, 125 gezinnen en 6 professionals (2 activiteiten)" in page
    assert "3 van de 6 activiteiten (50%) met ervaringsdeskundigen." in page
    # Untrusted text is escaped: it never becomes markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; meer" in page
    assert "<script" not in page
    assert (
        "Niet meegeteld, want er staan fouten in: monitoring/2026/kapot.yaml, monitoring/2026/zwolle2.yaml."
        in page
    )
    # The monitoring contact is for the reminder only: not on the page, not in any CSV file.
    for path in written:
        assert "piet.monitoring@" not in path.read_text(encoding="utf-8-sig"), path.name
    assert page.count("<svg ") == 2 * (
        7 + 5
    )  # the report's seven charts, the monitoring's five; each drawn twice


def test_the_summary_lines(report: Report) -> None:
    lines = summary_lines(report)
    assert lines[-3:] == [
        "  Progress on pledges (counted: 2026, 2026-H1, 2026-H2): 3 of 5 partners reported 6 activities, "
        "reaching 1700 children, 1275 families and 38 professionals; 3 with ervaringsdeskundigen (50%)",
        "  No progress reported yet: 2: Kapot Bestand, Stille Stichting",
        "  Not counted, with errors (run 'newsletter validate'): monitoring/2026/kapot.yaml, "
        "monitoring/2026/zwolle2.yaml",
    ]
