"""The partner activity report: numbers worked out by hand for a small fixture database.

The fixture (``instance``) is a temporary SQLite state database filled through ``Store`` and a
``sources.yaml`` written here; every expected number below is counted by hand from the table
in ``ITEMS`` and ``ISSUES``. Period: 2026-01-01 to 2026-12-31, silent after 6 months, so the
call-list cutoff is 2026-06-30.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Sent, make_item, newsletter, seed

from pipeline.cli.base import main
from pipeline.domain.config import Config, submission_source
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
from pipeline.infra.templating import TemplateError
from pipeline.report import (
    UNKNOWN,
    Count,
    Month,
    Report,
    ReportError,
    add_months,
    build_report,
    default_period,
    months_between,
    write_report,
)

START, END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
UTC = dt.UTC

PROVINCES = """\
    - {id: landelijk, title: Landelijk}
    - {id: groningen, title: Groningen}
    - {id: friesland, title: Fryslân}
    - {id: drenthe, title: Drenthe}
    - {id: overijssel, title: Overijssel}
    - {id: flevoland, title: Flevoland}
    - {id: gelderland, title: Gelderland}
    - {id: utrecht, title: Utrecht}
    - {id: noord-holland, title: Noord-Holland}
    - {id: zuid-holland, title: Zuid-Holland}
    - {id: zeeland, title: Zeeland}
    - {id: noord-brabant, title: Noord-Brabant}
    - {id: limburg, title: Limburg}
"""  # landelijk first on purpose: the report puts the twelve first, landelijk last

PARTNERS = """\
  - {id: zwolle, name: Gemeente Zwolle, sector: gemeenten, province: overijssel, joined: 2020-01-01, website: "https://zwolle.example.nl/"}
  - {id: ggd, name: GGD Fryslân, sector: zorg, province: friesland}
  - {id: leergeld, name: Stichting Leergeld, sector: welzijn, province: noord-brabant, joined: 2026-03-01}
  - {id: stil, name: Stille Stichting, sector: welzijn, province: gelderland, joined: 2021-01-01}
  - {id: nooit, name: Nooit Actief, sector: gemeenten, province: landelijk}
  - {id: nieuw, name: Nieuw Lid, sector: zorg, province: utrecht, joined: 2026-11-01}
"""

HORIZONS = """\
  horizons:
    - {id: verzachten, title: Verzachten}
    - {id: versterken, title: Versterken}
    - {id: veranderen, title: Veranderen}
"""


def write_instance(root: Path, partners: str = PARTNERS, horizons: str = HORIZONS) -> Config:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yaml").write_text(
        textwrap.dedent("""\
            newsletter:
              title: Nieuwsbrief Test
              from: {email: nieuwsbrief@example.org}
              postal_address: Voorbeeldstraat 1, Utrecht
              archive_url: https://example.org/archief/
              timezone: Europe/Amsterdam
              report: {silent_months: 6}
            taxonomy:
              sections:
                - {id: partners, title: Wat partners doen}
              themes:
                - {id: meedoen, title: Meedoen}
                - {id: onderwijs, title: Onderwijs}
                - {id: gezondheid, title: Gezondheid}
              sectors:
                - {id: gemeenten, title: Gemeenten}
                - {id: zorg, title: Jeugdgezondheidszorg}
                - {id: welzijn, title: Welzijn}
              kinds:
                - {id: story, title: Verhaal}
                - {id: research, title: Onderzoek}
                - {id: event, title: Bijeenkomst}
              provinces:
            """)
        + textwrap.indent(textwrap.dedent(PROVINCES), "    ")
        + horizons
        + "partners:\n"
        + partners
        + "sources:\n  - {id: instituut, name: Kennisinstituut, url: https://instituut.example.nl/feed}\n",
        encoding="utf-8",
    )
    return load_config(root)


# id, partner, published (UTC), kind, themes, provinces, ervaringsdeskundigen, horizon
Row = tuple[str, str | None, dt.datetime, str, tuple[str, ...], tuple[str, ...], bool, str | None]
ITEMS: list[Row] = [
    # 23:30 UTC on 31 December is 00:30 on 1 January in Amsterdam: in the period, in January.
    ("z1", "zwolle", dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "story", ("meedoen",), (), True, "verzachten"),
    # ... and this one is 1 February in Amsterdam.
    ("z2", "zwolle", dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "story", ("meedoen", "onderwijs"),
     ("overijssel", "gelderland"), False, "versterken"),
    ("z3", "zwolle", dt.datetime(2026, 5, 10, 9, 0, tzinfo=UTC), "event", (), (), False, None),
    ("g1", "ggd", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "research", ("gezondheid",), ("friesland",), True,
     "veranderen"),
    ("l1", "leergeld", dt.datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "story", ("meedoen",), ("noord-brabant",), False,
     "verzachten"),
    # 1 January 2027 in Amsterdam: after the period, and not leergeld's "last contribution" either.
    ("l2", "leergeld", dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "story", (), (), False, None),
    ("s0", "stil", dt.datetime(2025, 11, 15, 9, 0, tzinfo=UTC), "story", (), (), False, None),  # before
    ("r1", None, dt.datetime(2026, 2, 10, 9, 0, tzinfo=UTC), "research", (), (), False, None),  # not a partner
    ("x1", "oud", dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC), "story", (), (), False, None),  # left the registry
]  # fmt: skip

# issue id, started (UTC), items
ISSUES = [
    ("2025-12", dt.datetime(2025, 12, 5, 8, 0, tzinfo=UTC), ["s0"]),
    ("2026-02", dt.datetime(2026, 2, 5, 8, 0, tzinfo=UTC), ["z1"]),
    ("2026-03", dt.datetime(2026, 3, 5, 8, 0, tzinfo=UTC), ["z2", "r1"]),
    ("2026-12", dt.datetime(2026, 12, 10, 8, 0, tzinfo=UTC), ["g1", "l1"]),
]


def fill(
    store: Store, items: list[Row] = ITEMS, issues: list[tuple[str, dt.datetime, list[str]]] = ISSUES
) -> None:
    made = [
        make_item(
            iid, published, partner=partner, title=f"Item {iid}", summary="x", kind=kind, themes=themes,
            provinces=provinces, ervaringsdeskundigen=ed, horizon=horizon,
            source=submission_source(partner) if partner else "instituut",
            origin="submission" if partner else "feed",
        )
        for iid, partner, published, kind, themes, provinces, ed, horizon in items
    ]  # fmt: skip
    seed(
        store,
        made,
        [Sent(issue_id, started, [("partners", i) for i in ids]) for issue_id, started, ids in issues],
    )


@contextmanager
def filled_instance(
    root: Path,
    fill: Callable[[Store], None],
    *,
    partners: str = PARTNERS,
    files: Callable[[Path], None] | None = None,
) -> Iterator[tuple[Config, Store]]:
    """An instance at ``root`` (``files`` adds to its folder), its state database filled by ``fill``."""
    config = write_instance(root, partners=partners)
    if files is not None:
        files(config.root)
    with Store(config.settings.state) as store:
        fill(store)
        yield config, store


def report_page(root: Path, fill: Callable[[Store], None], **instance: Any) -> Path:
    """The report for START..END of a ``filled_instance``, written out: its index.html."""
    with filled_instance(root / "inst", fill, **instance) as (config, store):
        report = build_report(config, store, start=START, end=END)
    return write_report(config, report, root / "out")[0]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    with filled_instance(tmp_path / "inst", fill) as both:
        yield both


@pytest.fixture
def report(instance: tuple[Config, Store]) -> Report:
    config, store = instance
    return build_report(config, store, start=START, end=END)


def test_headline_numbers(report: Report) -> None:
    t = report.totals
    # Partner items in the period: z1 z2 z3 g1 l1 x1; r1 is the institute's; l2 and s0 fall outside.
    assert (t.partner_items, t.other_items) == (6, 1)
    assert t.featured == 4  # z1, z2, g1, l1
    assert t.issues_sent == 3  # 2026-02, 2026-03, 2026-12 (2025-12 was before the period)
    assert (t.partners, t.active_partners) == (6, 3)  # zwolle, ggd, leergeld ("oud" is not registered)
    assert t.ervaringsdeskundigen == 2  # z1, g1
    assert round(t.ervaringsdeskundigen_share, 4) == 0.3333


def test_months_in_the_instance_time_zone(report: Report) -> None:
    assert [m.first_day for m in report.months] == [dt.date(2026, m, 1) for m in range(1, 13)]
    busy = {m.first_day.month: m for m in report.months if m.collected}
    assert busy == {
        1: Month(dt.date(2026, 1, 1), 1, 0, 1),  # z1 (featured)
        2: Month(dt.date(2026, 2, 1), 1, 1, 2),  # z2 and the institute's r1, both featured
        4: Month(dt.date(2026, 4, 1), 1, 0, 0),  # x1
        5: Month(dt.date(2026, 5, 1), 1, 0, 0),  # z3
        7: Month(dt.date(2026, 7, 1), 1, 0, 1),  # l1
        11: Month(dt.date(2026, 11, 1), 1, 0, 1),  # g1
    }
    assert busy[2].title == "februari 2026"


def test_breakdowns(report: Report) -> None:
    assert report.sectors == (
        Count("gemeenten", "Gemeenten", 3, 2),  # z1 z2 z3; z1 and z2 featured
        Count("zorg", "Jeugdgezondheidszorg", 1, 1),
        Count("welzijn", "Welzijn", 1, 1),
        Count(UNKNOWN, "Niet aangegeven", 1, 0),  # x1: its partner left the registry
    )
    provinces = {c.id: (c.items, c.featured) for c in report.provinces}
    # z1 and z3 give none and count where Zwolle is; z2 names Overijssel and Gelderland.
    assert provinces == {
        "groningen": (0, 0), "friesland": (1, 1), "drenthe": (0, 0), "overijssel": (3, 2),
        "flevoland": (0, 0), "gelderland": (1, 1), "utrecht": (0, 0), "noord-holland": (0, 0),
        "zuid-holland": (0, 0), "zeeland": (0, 0), "noord-brabant": (1, 1), "limburg": (0, 0),
        "landelijk": (0, 0), UNKNOWN: (1, 0),
    }  # fmt: skip
    assert [c.id for c in report.provinces][:2] == ["groningen", "friesland"]
    assert [c.id for c in report.provinces][-2:] == ["landelijk", UNKNOWN]
    assert [(c.id, c.items, c.featured) for c in report.themes] == [
        ("meedoen", 3, 3), ("onderwijs", 1, 1), ("gezondheid", 1, 1), (UNKNOWN, 2, 0),
    ]  # fmt: skip
    assert [(c.id, c.items, c.featured) for c in report.kinds] == [
        ("story", 4, 3), ("research", 1, 1), ("event", 1, 0),
    ]  # fmt: skip
    assert [(c.id, c.items, c.featured) for c in report.horizons] == [
        ("verzachten", 2, 2), ("versterken", 1, 1), ("veranderen", 1, 1), (UNKNOWN, 2, 0),
    ]  # fmt: skip


def test_partner_table_call_list_and_new_partners(report: Report) -> None:
    rows = {
        r.id: (r.items, r.featured, r.last_contribution, r.issues, r.silent, r.quiet_months)
        for r in report.partners
    }
    assert rows == {
        # Active early in the year, nothing after 10 May: on the call list all the same.
        "zwolle": (3, 2, dt.date(2026, 5, 10), ("2026-02", "2026-03"), True, 7),
        "ggd": (1, 1, dt.date(2026, 11, 20), ("2026-12",), False, 1),
        # 1 July is after the cutoff (30 June); l2 (1 January 2027) does not count.
        "leergeld": (1, 1, dt.date(2026, 7, 1), ("2026-12",), False, 5),
        "stil": (0, 0, dt.date(2025, 11, 15), (), True, 13),
        "nooit": (0, 0, None, (), True, None),
        "nieuw": (0, 0, None, (), False, 1),  # joined 1 November: not silent yet
        "oud": (1, 0, dt.date(2026, 4, 1), (), False, None),
    }
    assert [r.name for r in report.partners] == [
        "Gemeente Zwolle", "GGD Fryslân", "Nieuw Lid", "Nooit Actief", "oud", "Stichting Leergeld",
        "Stille Stichting",
    ]  # fmt: skip
    assert next(r for r in report.partners if r.id == "oud").registered is False
    # Never heard from first, then the longest silent.
    assert [r.id for r in report.silent] == ["nooit", "stil", "zwolle"]
    assert [r.id for r in report.new] == ["nieuw", "leergeld"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_files_read_back(report: Report, instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "out"
    written = write_report(config, report, out)
    assert written[0] == out / "index.html"
    assert sorted(p.name for p in written[1:]) == [
        "horizons.csv", "kinds.csv", "months.csv", "new.csv", "partners.csv", "provinces.csv",
        "sectors.csv", "silent.csv", "summary.csv", "themes.csv",
    ]  # fmt: skip
    summary = {r["meting"]: r["waarde"] for r in read_csv(out / "summary.csv")}
    assert summary["bijdragen_partners"] == "6"
    assert summary["aandeel_ervaringsdeskundigen"] == "0.3333"
    assert (summary["van"], summary["tot_en_met"]) == ("2026-01-01", "2026-12-31")
    months = read_csv(out / "months.csv")
    assert len(months) == 12
    assert months[1] == {"maand": "2026-02", "van_partners": "1", "andere_bronnen": "1", "verzameld": "2",
                         "uitgelicht": "2"}  # fmt: skip
    partners = {r["partner"]: r for r in read_csv(out / "partners.csv")}
    assert partners["zwolle"]["nieuwsbrieven"] == "2026-02 2026-03"
    assert partners["zwolle"]["laatste_bijdrage"] == "2026-05-10"
    assert partners["ggd"]["naam"] == "GGD Fryslân"  # the byte order mark keeps â right in Excel
    assert partners["nooit"]["maanden_stil"] == ""
    assert [r["partner"] for r in read_csv(out / "silent.csv")] == ["nooit", "stil", "zwolle"]
    sectors = read_csv(out / "sectors.csv")
    assert sectors[0] == {"sector": "gemeenten", "naam": "Gemeenten", "bijdragen": "3", "uitgelicht": "2"}
    assert (out / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_page_is_self_contained_and_describes_every_chart(
    report: Report, instance: tuple[Config, Store], tmp_path: Path
) -> None:
    config, _ = instance
    page = write_report(config, report, tmp_path / "a")[0].read_text(encoding="utf-8")
    assert '<html lang="nl">' in page
    # Nothing to fetch, nothing to run: it opens offline and from an email attachment.
    assert "<script" not in page
    assert not re.search(r"""\b(src|srcset)=|<link\b|@import|url\(\s*['"]?http""", page)
    svgs = re.findall(r"<svg [^>]*>", page)
    # months, sector, province, theme, kind, horizon, ervaringsdeskundigen: each drawn wide and narrow
    assert len(svgs) == 2 * 7
    assert all('role="img"' in s and "aria-labelledby=" in s for s in svgs)
    assert page.count("<desc id=") == 2 * 7
    # Every id once on the page (pygal gives every chart's legend the same ids; the page renames them).
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert (
        len(ids) == len(set(ids))
        and "chart-ervaringsdeskundigen-serie-0" in ids
        and "chart-ervaringsdeskundigen-smal-serie-0" in ids
    )
    assert (
        "Bijdragen per provincie: Overijssel 3, Fryslân 1, Gelderland 1, Noord-Brabant 1 en Niet aangegeven 1"
        in page
    )
    assert "2 van de 6 bijdragen (33%) met ervaringsdeskundigen." in page
    assert ">mrt 2026</text>" in page and ">maa 2026<" not in page  # the months as Dutch abbreviates them
    # The call list comes right after the headline numbers.
    assert page.index('id="kerncijfers"') < page.index('id="bellijst"') < page.index('id="maanden"')
    # Two builds of the same report are identical (no random chart ids, no render dates).
    again = write_report(config, report, tmp_path / "b")[0].read_text(encoding="utf-8")
    assert again == page


def test_empty_database_gives_a_report_of_zeros(tmp_path: Path) -> None:
    config = write_instance(tmp_path / "inst")
    with Store(config.settings.state) as store:
        report = build_report(config, store, start=START, end=END)
    assert report.totals.partner_items == report.totals.featured == report.totals.issues_sent == 0
    assert report.totals.ervaringsdeskundigen_share == 0.0
    assert all(m.collected == 0 for m in report.months) and len(report.months) == 12
    assert all(c.items == 0 for c in report.provinces) and len(report.provinces) == 13
    # Without items, a partner is silent unless they joined within the last six months; those
    # who joined longest ago come first, and those whose joining date is unknown before them.
    assert [r.id for r in report.silent] == ["ggd", "nooit", "zwolle", "stil", "leergeld"]
    written = write_report(config, report, tmp_path / "out")
    page = written[0].read_text(encoding="utf-8")
    assert "Geen gegevens" in page  # the ervaringsdeskundigen chart, with nothing to divide
    assert "0 van de 0 bijdragen (0%)" in page


def test_one_partner_without_horizons(tmp_path: Path) -> None:
    one = "  - {id: zwolle, name: Gemeente Zwolle, sector: gemeenten, province: overijssel}\n"
    config = write_instance(tmp_path / "inst", partners=one, horizons="")
    with Store(config.settings.state) as store:
        fill(store, [ITEMS[1]], [ISSUES[2]])  # z2, in the 2026-03 issue
        report = build_report(config, store, start=START, end=END)
    assert (report.totals.partner_items, report.totals.featured, report.totals.active_partners) == (1, 1, 1)
    assert report.horizons == ()
    assert [(r.id, r.issues, r.silent) for r in report.partners] == [("zwolle", ("2026-03",), True)]
    written = write_report(config, report, tmp_path / "out")
    assert "horizons.csv" not in {p.name for p in written}
    assert 'id="horizons"' not in written[0].read_text(encoding="utf-8")


def test_period_arithmetic() -> None:
    assert add_months(dt.date(2026, 12, 31), -6) == dt.date(2026, 6, 30)
    assert add_months(dt.date(2026, 3, 31), -1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2025, 11, 15), 13) == dt.date(2026, 12, 15)
    assert months_between(dt.date(2026, 5, 10), dt.date(2026, 12, 31)) == 7
    assert months_between(dt.date(2026, 5, 10), dt.date(2026, 6, 9)) == 0
    assert default_period(dt.date(2026, 11, 26)) == (dt.date(2025, 12, 1), dt.date(2026, 11, 26))


def test_period_must_not_end_before_it_starts(instance: tuple[Config, Store]) -> None:
    config, store = instance
    with pytest.raises(ReportError, match=r"starts \(2026-12-31\) after it ends \(2026-01-01\)"):
        build_report(config, store, start=END, end=START)


def test_command(instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "verslag"
    args = f"report --from 2026-01-01 --to 2026-12-31 --out {out}".split()
    result = CliRunner().invoke(main, ["--root", str(config.root), *args])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Wrote {out / 'index.html'} and 10 CSV files (2026-01-01 to 2026-12-31).",
        "  6 items from 3 of 6 partners (1 from other sources); 4 featured in sent issues; "
        "3 issues sent in the period",
        "  Call list (silent for more than 6 months): 3: Nooit Actief, Stille Stichting, Gemeente Zwolle",
        "  New partners: Nieuw Lid, Stichting Leergeld",
    ]
    assert (out / "index.html").is_file()


def test_command_defaults_and_bad_period(instance: tuple[Config, Store]) -> None:
    config, _ = instance
    root = str(config.root)
    result = CliRunner().invoke(main, ["--root", root, "report", "--to", "2026-06-30"])
    assert result.exit_code == 0, result.output
    # Twelve months: July 2025 (the first of the month eleven before June) to 30 June 2026.
    assert "build/report/index.html and 10 CSV files (2025-07-01 to 2026-06-30)." in result.output
    assert (config.root / "build" / "report" / "months.csv").is_file()
    bad = CliRunner().invoke(main, ["--root", root, "report", "--from", "2026-12-31", "--to", "2026-01-01"])
    assert bad.exit_code == 2
    assert "2026-12-31 is after --to 2026-01-01; swap them" in bad.output


def test_an_instance_template_replaces_the_page_and_its_mistakes_name_their_line(
    report: Report, instance: tuple[Config, Store], tmp_path: Path
) -> None:
    config, _ = instance
    own = config.root / "templates" / "report" / "index.html.j2"
    own.parent.mkdir(parents=True)
    own.write_text("<h1>{{ report.title }}: {{ t.partner_items | number }}</h1>\n", encoding="utf-8")
    page = write_report(config, report, tmp_path / "own")[0].read_text(encoding="utf-8")
    assert page == "<h1>Nieuwsbrief Test: 6</h1>\n"
    own.write_text("<h1>{{ report.title }}</h1>\n<p>{{ report.no_such_field }}</p>\n", encoding="utf-8")
    with pytest.raises(TemplateError) as e:
        write_report(config, report, tmp_path / "broken")
    assert e.value.message.startswith("templates/report/index.html.j2:2: UndefinedError: ")


def test_command_in_dutch(instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "verslag"
    result = newsletter(
        config.root, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(out),
        env={"NEWSLETTER_LANG": "nl"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [  # the first line ("Wrote ...") is the command line's own
        "  6 berichten van 3 van 6 partners (1 uit andere bronnen); 4 opgenomen in verstuurde nieuwsbrieven;"
        " 3 nieuwsbrieven verstuurd in de periode",
        "  Bellijst (meer dan 6 maanden stil): 3: Nooit Actief, Stille Stichting, Gemeente Zwolle",
        "  Nieuwe partners: Nieuw Lid, Stichting Leergeld",
    ]


def test_value_axis_ticks_are_round_and_few() -> None:
    from pipeline.report.charts import ticks

    assert ticks(1450, 8) == [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600]  # the wide drawing
    assert ticks(1450, 4) == [0, 500, 1000, 1500]
    assert ticks(14, 8) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert ticks(5, 8) == [0, 1, 2, 3, 4, 5]
    assert ticks(0, 8) == [0, 1]  # nothing yet: still an axis
