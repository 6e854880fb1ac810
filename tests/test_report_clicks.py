"""The report's "Wat lezers deden": clicks per story, partner and other link, counted by hand.

The fixture: the instance of ``test_report`` (partners Zwolle, GGD, Leergeld, ...; the institute
as another source), its own items and issues (``ITEMS``, ``ISSUES``) and SendGrid's events
(``EVENTS``) stored through ``Store.store_event`` as the webhook does. Period: 2026. By hand:

issue 2026-02 (sent 5 Feb): a1 Zwolle: anna x3 (UTM; again; http, upper-case host and fbclid),
  bram x1 -> 2 readers, 4 clicks; b1 GGD: bram -> 1, 1. Other links: anna the web version, cees
  Zwolle's home page, cees SendGrid's unsubscribe page -> 2 readers, 3 clicks. The editor's click
  on 4 Feb (a test send) and anna's "open" do not count. Issue: 3 readers, 8 clicks.
issue 2026-05 (sent 12 May): a2 Zwolle (?id=7): anna, dirk (parameters in another order, gclid)
  -> 2, 2; r1 the institute: dirk x2 -> 1, 2; c1 Leergeld: nobody -> 0, 0. Other: anna on
  ?id=8 (another page) -> 1, 1. Issue: 2 readers, 5 clicks.
issue 2026-12 (sent 10 Dec): e1 GGD: bram on 4 January 2027 -> 1, 1 (it counts with its issue).
Not counted: anna's click in 2026 on the 2025-11 issue (sent before the period), a click
without an issue (a sign-up mail).
Period: 4 readers (anna, bram, cees, dirk), 14 clicks, 10 on stories (5 of 6 stories), 4 other.
Per partner: Zwolle a1+a2 -> 4 readers, 6 clicks; GGD b1+e1 -> 2, 2; the institute r1 -> 1, 2;
Leergeld c1 -> 0, 0.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Sent, make_item, seed
from test_report import END, START, filled_instance, read_csv, write_instance

from pipeline.cli.base import main
from pipeline.domain.config import Config, submission_source
from pipeline.infra.store import Event, Store
from pipeline.report import (
    ClicksPart,
    IssueClicks,
    LinkClicks,
    PartnerClicks,
    Report,
    build_report,
    clicks_chart,
    csv_files,
    summary_lines,
    write_report,
)

UTC = dt.UTC
UTM = "utm_source=nieuwsbrief&utm_medium=email&utm_campaign="


def at(month: int, day: int, hour: int = 9, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=UTC)


# id, partner, url, published
ITEMS = [
    ("o1", "zwolle", "https://zwolle.example.nl/oud", dt.datetime(2025, 11, 1, 9, tzinfo=UTC)),
    ("a1", "zwolle", "https://zwolle.example.nl/fietsplan", at(1, 20)),
    ("a2", "zwolle", "https://zwolle.example.nl/laptops?id=7", at(2, 2)),
    ("b1", "ggd", "https://ggd.example.nl/signalen", at(2, 3)),
    ("c1", "leergeld", "https://leergeld.example.nl/schoolreis", at(5, 1)),
    ("r1", None, "https://instituut.example.nl/onderzoek", at(4, 1)),
    ("e1", "ggd", "https://ggd.example.nl/winter", at(12, 1)),
]
ISSUES = [
    Sent("2025-11", dt.datetime(2025, 11, 5, 8, tzinfo=UTC), [("partners", "o1")]),
    Sent("2026-02", at(2, 5, 8), [("partners", "a1"), ("partners", "b1")]),
    Sent("2026-05", at(5, 12, 8), [("partners", "a2"), ("partners", "c1"), ("partners", "r1")]),
    Sent("2026-12", at(12, 10, 8), [("partners", "e1")]),
]
EVENTS = [
    Event("e01", "click", "anna@example.org", at(2, 5), "2026-02", url=f"https://zwolle.example.nl/fietsplan?{UTM}2026-02"),
    Event("e02", "click", "anna@example.org", at(2, 5, 10), "2026-02", url=f"https://zwolle.example.nl/fietsplan?{UTM}2026-02"),
    Event("e03", "click", "anna@example.org", at(2, 6), "2026-02", url="http://ZWOLLE.example.nl/fietsplan?fbclid=abc"),
    Event("e04", "click", "bram@example.org", at(2, 6), "2026-02", url=f"https://zwolle.example.nl/fietsplan?{UTM}2026-02"),
    Event("e05", "click", "bram@example.org", at(2, 6), "2026-02", url="https://ggd.example.nl/signalen?utm_source=nieuwsbrief"),
    Event("e06", "click", "anna@example.org", at(2, 5), "2026-02", url=f"https://example.org/archief/2026-02/?{UTM}2026-02"),
    Event("e07", "click", "cees@example.org", at(2, 7), "2026-02", url="https://zwolle.example.nl/?utm_source=x"),
    Event("e19", "click", "cees@example.org", at(2, 8), "2026-02",
          url="https://u123.ct.sendgrid.net/asm/unsubscribe/?user_id=1&data=GEHEIMTOKEN"),
    # The editor's test send carries the same issue id, a day before the list got it.
    Event("e08", "click", "redactie@example.org", at(2, 4), "2026-02", url=f"https://zwolle.example.nl/fietsplan?{UTM}2026-02"),
    Event("e09", "open", "anna@example.org", at(2, 5), "2026-02"),
    Event("e11", "click", "anna@example.org", at(5, 12), "2026-05", url=f"https://zwolle.example.nl/laptops?id=7&{UTM}2026-05"),
    Event("e12", "click", "dirk@example.org", at(5, 13), "2026-05", url="https://zwolle.example.nl/laptops?utm_campaign=2026-05&id=7&gclid=zz"),
    Event("e13", "click", "dirk@example.org", at(5, 13), "2026-05", url="https://instituut.example.nl/onderzoek?utm_medium=email"),
    Event("e14", "click", "dirk@example.org", at(5, 14), "2026-05", url="https://instituut.example.nl/onderzoek?utm_medium=email"),
    Event("e15", "click", "anna@example.org", at(5, 12), "2026-05", url="https://zwolle.example.nl/laptops?id=8"),
    Event("e16", "click", "bram@example.org", at(1, 4, year=2027), "2026-12", url="https://ggd.example.nl/winter?utm_source=nieuwsbrief"),
    Event("e17", "click", "anna@example.org", at(1, 10), "2025-11", url="https://zwolle.example.nl/oud?utm_source=nieuwsbrief"),
    Event("e18", "click", "anna@example.org", at(3, 1), None, url="https://example.org/bevestig"),
]  # fmt: skip


def fill(store: Store, events: list[Event] = EVENTS) -> None:
    items = [
        make_item(iid, published, partner=partner, url=url, title=f"Verhaal {iid}",
                  source=submission_source(partner) if partner else "instituut",
                  origin="submission" if partner else "feed")
        for iid, partner, url, published in ITEMS
    ]  # fmt: skip
    seed(store, items, ISSUES)
    for event in events:
        assert store.store_event(event, at(6, 1, year=2027))


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    with filled_instance(tmp_path / "inst", fill) as both:
        yield both


@pytest.fixture
def report(instance: tuple[Config, Store]) -> Report:
    config, store = instance
    return build_report(config, store, start=START, end=END)


def test_clicks_per_story_of_each_issue(report: Report) -> None:
    c = report.clicks
    assert c is not None
    rows = [(i.id, [(s.item, s.clickers, s.clicks) for s in i.stories]) for i in c.issues]
    assert rows == [
        ("2026-02", [("a1", 2, 4), ("b1", 1, 1)]),
        ("2026-05", [("a2", 2, 2), ("r1", 1, 2), ("c1", 0, 0)]),  # most readers first, nobody last
        ("2026-12", [("e1", 1, 1)]),  # clicked in January 2027: it counts with its issue
    ]
    first = c.issues[0]
    assert first == dataclasses.replace(
        first, subject="Nieuwsbrief 2026-02", sent_on=dt.date(2026, 2, 5), clickers=3, clicks=8,
        other_clickers=2, other_clicks=3,
    )  # fmt: skip
    assert (c.issues[1].clickers, c.issues[1].clicks, c.issues[1].other_clicks) == (2, 5, 1)
    a1 = first.stories[0]
    assert (a1.title, a1.source, a1.partner, a1.url, a1.position) == (
        "Verhaal a1", "Gemeente Zwolle", "zwolle", "https://zwolle.example.nl/fietsplan", 0,
    )  # fmt: skip
    r1 = c.issues[1].stories[1]
    assert (r1.source, r1.partner) == ("Kennisinstituut", None)


def test_the_headline_and_the_period(report: Report) -> None:
    c = report.clicks
    assert c is not None
    # anna, bram, cees, dirk; the editor's test click, the 2025-11 issue and the sign-up mail not.
    assert c.clickers == 4
    assert (c.clicks, c.story_clicks, c.other_clicks) == (14, 10, 4)
    assert (c.stories_clicked, c.stories) == (5, 6)


def test_clicks_per_partner_beside_what_they_contributed(report: Report) -> None:
    c = report.clicks
    assert c is not None
    assert c.partners == (
        PartnerClicks(
            "zwolle", "Gemeente Zwolle", True, items=2, featured=2, stories=2, clickers=4, clicks=6
        ),
        PartnerClicks("ggd", "GGD Fryslân", True, items=2, featured=2, stories=2, clickers=2, clicks=2),
        PartnerClicks(
            "instituut", "Kennisinstituut", False, items=1, featured=1, stories=1, clickers=1, clicks=2
        ),
        PartnerClicks(
            "leergeld", "Stichting Leergeld", True, items=1, featured=1, stories=1, clickers=0, clicks=0
        ),
    )
    # The column in "Alle partners": the same readers; partners without stories sent: 0.
    assert {r.id: report.partner_clickers(r.id) for r in report.partners} == {
        "zwolle": 4, "ggd": 2, "leergeld": 0, "stil": 0, "nooit": 0, "nieuw": 0,
    }  # fmt: skip


def test_other_links_lose_their_query(report: Report) -> None:
    c = report.clicks
    assert c is not None
    assert c.links == (
        LinkClicks("example.org/archief/2026-02/", "Webversie of archief", 1, 1),
        LinkClicks("u123.ct.sendgrid.net/asm/unsubscribe/", "Afmelden of voorkeuren", 1, 1),
        LinkClicks("zwolle.example.nl/", "Website van Gemeente Zwolle", 1, 1),
        LinkClicks("zwolle.example.nl/laptops", "Website van Gemeente Zwolle", 1, 1),  # ?id=8: no story
    )


def test_clicks_change_no_other_number(instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, store = instance
    with_clicks = build_report(config, store, start=START, end=END)
    bare = write_instance(tmp_path / "bare")
    with Store(bare.settings.state) as other:
        fill(other, events=[])
        without = build_report(bare, other, start=START, end=END)
    assert without.clicks is None
    assert dataclasses.replace(with_clicks, clicks=None) == without
    assert (without.totals.issues_sent, without.totals.featured) == (
        3,
        5,
    )  # a1 a2 b1 c1 e1; r1 is no partner's


def test_csv_files(report: Report, instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "out"
    names = {p.name for p in write_report(config, report, out)}
    assert {"clicks_stories.csv", "clicks_partners.csv", "clicks_links.csv"} <= names
    stories = read_csv(out / "clicks_stories.csv")
    assert [(r["nieuwsbrief"], r["item"], r["klikkers"], r["klikken"]) for r in stories] == [
        ("2026-02", "a1", "2", "4"), ("2026-02", "b1", "1", "1"),
        ("2026-05", "a2", "2", "2"), ("2026-05", "r1", "1", "2"), ("2026-05", "c1", "0", "0"),
        ("2026-12", "e1", "1", "1"),
    ]  # fmt: skip
    assert stories[3] == {
        "nieuwsbrief": "2026-05", "verzonden": "2026-05-12", "positie": "3", "item": "r1", "titel": "Verhaal r1",
        "partner": "", "bron": "Kennisinstituut", "url": "https://instituut.example.nl/onderzoek",
        "klikkers": "1", "klikken": "2",
    }  # fmt: skip
    partners = read_csv(out / "clicks_partners.csv")
    assert [tuple(r.values()) for r in partners] == [
        ("zwolle", "Gemeente Zwolle", "partner", "2", "2", "2", "4", "6"),
        ("ggd", "GGD Fryslân", "partner", "2", "2", "2", "2", "2"),
        ("instituut", "Kennisinstituut", "andere bron", "1", "1", "1", "1", "2"),
        ("leergeld", "Stichting Leergeld", "partner", "1", "1", "1", "0", "0"),
    ]
    assert list(partners[0]) == ["partner", "naam", "soort", "bijdragen", "uitgelicht", "verhalen", "klikkers",
                                 "klikken"]  # fmt: skip
    links = read_csv(out / "clicks_links.csv")
    assert [r["link"] for r in links][:2] == [
        "example.org/archief/2026-02/",
        "u123.ct.sendgrid.net/asm/unsubscribe/",
    ]
    summary = {r["meting"]: r["waarde"] for r in read_csv(out / "summary.csv")}
    assert (summary["lezers_die_klikten"], summary["klikken"], summary["klikken_op_verhalen"]) == (
        "4",
        "14",
        "10",
    )
    assert (summary["klikken_op_andere_links"], summary["verhalen_aangeklikt"], summary["verhalen_verstuurd"]) == (
        "4", "5", "6",
    )  # fmt: skip
    # Nothing personal leaves the database: no address, no reader's token from a link.
    everything = "".join(csv_files(report).values()) + (out / "index.html").read_text(encoding="utf-8")
    assert "@example.org" not in everything.replace("nieuwsbrief@example.org", "")
    assert "GEHEIMTOKEN" not in everything


def test_the_page(report: Report, instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    page = write_report(config, report, tmp_path / "out")[0].read_text(encoding="utf-8")
    section = page[page.index('id="lezers"') : page.index('id="maanden"')]
    assert "Openingen tellen we niet" in section and "Mail Privacy Protection" in section
    assert "<div><dt>Lezers die klikten</dt><dd>4</dd></div>" in page  # in Kerncijfers, and the section
    assert "<dt>Verhalen aangeklikt</dt><dd>5 <small>van 6</small></dd>" in section
    assert 'id="tabel-klikken-partners"' in section and 'id="tabel-klikken-2026-05"' in section
    assert "Lezers die klikten, per partner of bron: Gemeente Zwolle: 4 lezers, 6 klikken; GGD Fryslân: 2 lezers, 2 klikken; " \
           "Kennisinstituut: 1 lezer, 2 klikken." in section  # fmt: skip
    assert "Nog niets bekend" not in page
    # The partner table has the column, in its own row of numbers.
    partners = page[page.index('id="tabel-partners"') :]
    assert '<th scope="col" class="n">Lezers die klikten</th>' in partners
    assert page.count("<svg ") == 2 * 8  # each chart drawn wide and narrow


def test_summary_line(report: Report) -> None:
    assert summary_lines(report)[-1] == (
        "  Clicks (on the 3 issues sent in the period): 4 readers clicked; 10 clicks on 5 of 6 stories, "
        "4 on other links; most read: Gemeente Zwolle (4 readers)"
    )


def test_without_the_webhook_the_report_says_how_to_set_it_up(tmp_path: Path) -> None:
    config = write_instance(tmp_path / "inst")
    with Store(config.settings.state) as store:
        fill(store, events=[Event("x1", "delivered", "anna@example.org", at(2, 5), "2026-02")])
        report = build_report(config, store, start=START, end=END)
    assert report.clicks is None  # a delivered event is no click
    written = write_report(config, report, tmp_path / "out")
    assert not any(p.name.startswith("clicks_") for p in written)
    page = written[0].read_text(encoding="utf-8")
    section = page[page.index('id="lezers"') : page.index('id="maanden"')]
    assert "Nog niets bekend" in section and "<code>newsletter serve</code>" in section
    assert "docs/audience.md" in section and "Openingen tellen we niet" in section
    assert "<table" not in section and "<svg" not in section
    assert "Lezers die klikten" not in page
    assert not any("Clicks" in line for line in summary_lines(report))


def test_a_period_without_issues_has_clicks_of_nothing(
    instance: tuple[Config, Store], tmp_path: Path
) -> None:
    config, store = instance
    report = build_report(config, store, start=dt.date(2027, 1, 1), end=dt.date(2027, 12, 31))
    c = report.clicks
    assert c is not None  # the webhook works: known, and nothing
    assert (c.issues, c.partners, c.links, c.clickers, c.clicks) == ((), (), (), 0, 0)
    page = write_report(config, report, tmp_path / "out")[0].read_text(encoding="utf-8")
    assert "In deze periode is geen nieuwsbrief met verhalen verstuurd." in page
    assert summary_lines(report)[-1] == (
        "  Clicks (on the 0 issues sent in the period): 0 readers clicked; 0 clicks on 0 of 0 stories, 0 on other links"
    )


def test_an_issue_whose_stories_nobody_clicked(tmp_path: Path) -> None:
    config = write_instance(tmp_path / "inst")
    with Store(config.settings.state) as store:
        # One click, on the web version of 2026-02: the stories stay, with zero.
        fill(store, events=[EVENTS[5]])
        report = build_report(config, store, start=START, end=END)
    c = report.clicks
    assert c is not None
    assert [(i.id, i.clickers, i.clicks) for i in c.issues] == [
        ("2026-02", 1, 1),
        ("2026-05", 0, 0),
        ("2026-12", 0, 0),
    ]
    assert all(s.clicks == 0 for i in c.issues for s in i.stories)
    assert [r.clickers for r in c.partners] == [0, 0, 0, 0]
    assert c.issues[0] == IssueClicks(
        "2026-02", "Nieuwsbrief 2026-02", dt.date(2026, 2, 5), c.issues[0].stories, 1, 1, 1, 1
    )


def test_command_prints_the_clicks(instance: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = instance
    out = tmp_path / "verslag"
    args = [
        "--root",
        str(config.root),
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out / 'index.html'} and 13 CSV files (2026-01-01 to 2026-12-31)." in result.output
    assert "  Clicks (on the 3 issues sent in the period): 4 readers clicked;" in result.output


def test_the_chart_shows_the_ten_most_read_in_dutch_numbers() -> None:
    rows = tuple(
        PartnerClicks(
            f"p{n}", f"Partner {n}", True, items=1, featured=1, stories=1, clickers=1200 - n, clicks=2345 - n
        )
        for n in range(12)
    )
    chart = clicks_chart(
        ClicksPart(issues=(), partners=rows, links=(), clickers=1200, clicks=0, story_clicks=0)
    )
    assert chart.description.startswith(
        "Lezers die klikten, per partner of bron, de 10 meest gelezen (de tabel heeft ze allemaal): "
        "Partner 0: 1.200 lezers, 2.345 klikken; Partner 1: 1.199 lezers"
    )
    assert "Partner 9:" in chart.description and "Partner 10" not in chart.description
    assert ">2.345<" in chart.svg and ">1.200<" in chart.svg  # on the bars too
    assert chart.svg.count('class="rect reactive tooltip-trigger"') == 20
