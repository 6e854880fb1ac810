"""The kennisbank (issue 27): theme, province and partner pages, the agenda with its .ics files,
the head tags of every page and the search index, built by the real publish from a temporary state
database with issues rendered by the real render stage.

The fixture: the demo instance (archive under /archief/), issue 2026-10 (a story of Gemeente Zwolle,
one of De Laptopfabriek, a research item of the Kenniscentrum) and 2026-11 (a story of JGZ Fryslân,
an evening in Zwolle on 10 December 2026 at 19.30 and an online session on 3 November 2026),
published "now" = 7 December 2026: the evening is upcoming, the session past.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from conftest import DEMO, Sent, seed
from test_publish import ISSUES, ITEMS, NOV, NOW, OCT, item, rendered

from pipeline.domain.config import Config
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
from pipeline.infra.templating import environment
from pipeline.publish import build_site, publish, write_site

AMS = dt.timezone(dt.timedelta(hours=1))  # CET: December in Amsterdam
ARCHIVE = "https://nieuwsbrief.example.org/archief/"
EVENTS = {
    "avond": dataclasses.replace(
        item("avond", "Publieksacademie over armoede in Zwolle", "samen-alliantie", ("ervaringskennis",), "event",
             "Een avond voor iedereen die met kinderen werkt."),
        starts=dt.datetime(2026, 12, 10, 18, 30, tzinfo=dt.UTC), ends=dt.datetime(2026, 12, 10, 20, 30, tzinfo=dt.UTC),
        location="Stadkamer, Zwolle", provinces=("overijssel",),
    ),
    "sessie": dataclasses.replace(
        ITEMS["sessie"], starts=dt.datetime(2026, 11, 3, 14, 0, tzinfo=dt.UTC),
        ends=dt.datetime(2026, 11, 3, 15, 0, tzinfo=dt.UTC), location="online",
    ),
}  # fmt: skip
ALL = {**ITEMS, **EVENTS}
PLACED = {
    "2026-10": [("partners", "fiets"), ("partners", "laptop"), ("kennis", "onderzoek")],
    "2026-11": [("partners", "ontbijt"), ("agenda", "avond"), ("agenda", "sessie")],
}


def send_all(store: Store, config: Config) -> None:
    seed(store, list(ALL.values()), now=OCT)
    for issue_id, placed in PLACED.items():
        made, _ = rendered(config, issue_id, ALL, placed)
        at = ISSUES[issue_id][2]
        seed(store, sent=[Sent(issue_id, at, placed, at + dt.timedelta(minutes=5), made)])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Path]]:
    root = tmp_path_factory.mktemp("kb") / "demo"
    shutil.copytree(DEMO, root)
    config = load_config(root)
    out = root / "www" / "archief"
    with Store(config.settings.state) as store:
        send_all(store, config)
        publish(config, store, out=out, now=NOW)
    yield config, out


def read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def test_the_agendas_ics_files_parse_with_dutch_local_times(site: tuple[Config, Path]) -> None:
    _config, out = site
    one = icalendar.Calendar.from_ical((out / "agenda" / "avond.ics").read_bytes())
    [event] = one.walk("VEVENT")
    assert event["SUMMARY"] == "Publieksacademie over armoede in Zwolle"
    assert event["UID"] == "avond@nieuwsbrief.example.org"
    assert event["LOCATION"] == "Stadkamer, Zwolle"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert (start.hour, start.minute, end.hour, end.minute) == (19, 30, 21, 30)  # Dutch local time
    assert str(start.tzinfo) == "Europe/Amsterdam" and start.utcoffset() == dt.timedelta(hours=1)
    assert [tz["TZID"] for tz in one.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    assert "DTSTART;TZID=Europe/Amsterdam:20261210T193000" in (out / "agenda" / "avond.ics").read_text()
    assert event.decoded("DTSTAMP") == NOV  # the send, not the clock
    whole = icalendar.Calendar.from_ical((out / "agenda.ics").read_bytes())
    assert [e["UID"] for e in whole.walk("VEVENT")] == [
        "sessie@nieuwsbrief.example.org", "avond@nieuwsbrief.example.org",
    ]  # fmt: skip
    assert whole["X-WR-TIMEZONE"] == "Europe/Amsterdam"


def test_the_agenda_puts_upcoming_events_apart_from_past_ones(site: tuple[Config, Path]) -> None:
    _config, out = site
    page = read(out, "agenda/index.html")
    upcoming, past = page.split('<h2 id="geweest">')
    assert "Publieksacademie over armoede in Zwolle" in upcoming and "Online sessie" not in upcoming
    assert "Online sessie: signaleren op school" in past
    assert "donderdag 10 december 2026" in upcoming
    assert '<a href="../agenda/avond.ics" download>Zet in je agenda' in upcoming
    assert '<a href="../agenda.ics">abonneer je op de hele agenda</a>' in page


def test_the_emails_agenda_entries_link_to_the_published_ics(site: tuple[Config, Path]) -> None:
    config, out = site
    made, _ = rendered(config, "2026-11", ALL, PLACED["2026-11"])
    ics = f"{ARCHIVE}agenda/avond.ics"
    assert re.search(rf'<a href="{re.escape(ics)}\?utm_[^"]*"[^>]*>Zet in je agenda</a>', made.html)
    assert f"Zet in je agenda:\n{ics}?utm_source=nieuwsbrief" in made.text
    assert (out / "agenda" / "avond.ics").is_file()  # where publish puts it


def test_theme_and_province_pages_put_research_apart(site: tuple[Config, Path]) -> None:
    _config, out = site
    onderwijs = read(out, "thema/onderwijs/index.html")
    assert '<h2 id="doen">Wat partners doen' in onderwijs and 'id="weten"' not in onderwijs
    schulden = read(out, "thema/inkomen-schulden/index.html")
    assert '<h2 id="weten">Wat we weten' in schulden and "Stress bij ouders met schulden" in schulden
    overijssel = read(out, "provincie/overijssel/index.html")
    # The partner's province (Gemeente Zwolle) and the item's own (the evening, of a national partner).
    assert "Een fiets voor elk kind in Zwolle" in overijssel and "Publieksacademie over armoede" in overijssel
    # Newest first: the evening went out in November, the bicycles in October.
    assert overijssel.index("Publieksacademie") < overijssel.index("Een fiets voor elk kind")


def test_partner_pages_show_the_pledge(site: tuple[Config, Path]) -> None:
    _config, out = site
    laptop = read(out, "partner/laptopfabriek/index.html")
    assert '<h2 id="toezegging">Toezegging</h2>' in laptop
    assert "Elk jaar 500 opgeknapte laptops voor leerlingen die thuis geen computer hebben." in laptop
    assert "Horizon: Verzachten · Sinds 15 oktober 2026" in laptop
    # A partner with nothing in the newsletter yet still has its page (progress activities link there).
    assert "Er stond nog niets van Woningcorporatie Oost in de nieuwsbrief." in read(
        out, "partner/woningcorporatie-oost/index.html"
    )


def test_every_page_has_head_tags_and_a_sign_up_link(site: tuple[Config, Path]) -> None:
    _config, out = site
    pages = [p for p in out.rglob("*.html") if "pagefind" not in p.parts]
    assert len(pages) > 20
    for page in pages:
        rel = page.relative_to(out).as_posix()
        html = page.read_text(encoding="utf-8")
        url = ARCHIVE + rel.removesuffix("index.html")
        assert f'<link rel="canonical" href="{url}">' in html, rel
        assert f'<meta property="og:url" content="{url}">' in html, rel
        assert html.count('<meta name="description"') == 1, rel
        for tag in ('property="og:title"', 'property="og:description"', 'name="twitter:card"',
                    'type="application/atom+xml"', 'href="https://nieuwsbrief.example.org/aanmelden"'):  # fmt: skip
            assert tag in html, (rel, tag)
    theme = read(out, "thema/meedoen/index.html")
    assert (
        '<meta property="og:title" content="Meedoen · Nieuwsbrief Samen tegen Kinderarmoede (demo)">' in theme
    )
    assert "Meld je aan voor de nieuwsbrief</a>" in theme


def test_the_search_records_hold_what_a_reader_searches_for(site: tuple[Config, Path]) -> None:
    config, out = site
    with Store(config.settings.state) as store:
        records = build_site(config, store, now=NOW).records
    assert sorted(records) == sorted(f"{i}.html" for i in ALL)
    fiets = records["fiets.html"]
    for text in ('<span data-pagefind-filter="thema">Meedoen</span>',
                 '<span data-pagefind-filter="provincie">Overijssel</span>',
                 '<span data-pagefind-filter="sector">Gemeenten</span>',
                 '<span data-pagefind-filter="soort">Verhaal</span>',
                 '<span data-pagefind-filter="jaar">2026</span>',
                 '<span data-pagefind-meta="bron[data-v]" data-v="https://www.example.nl/verhalen/fiets"></span>',
                 '<span data-pagefind-meta="nummerpad[data-v]" data-v="2026-10/index.html"></span>', "<p>Gemeente Zwolle</p>"):  # fmt: skip
        assert text in fiets, text
    assert (out / "pagefind" / "pagefind.js").is_file() and (out / "pagefind" / "wasm.nl.pagefind").is_file()
    assert len(list((out / "pagefind" / "fragment").iterdir())) == len(ALL)
    assert not (out / "pagefind" / "pagefind-ui.js").exists()  # zoeken/ has its own


def test_a_story_address_that_is_not_a_web_address_is_never_a_link(site: tuple[Config, Path]) -> None:
    config, _out = site
    from pipeline.publish.knowledge import kennisbank, stories
    from pipeline.publish.site import _Pages

    odd = dataclasses.replace(ITEMS["fiets"], url="javascript:alert(1)")
    with Store(config.settings.state) as store:
        issues = build_site(config, store, now=NOW).issues
        placements = [p for p in store.sent_items() if p.item == "fiets"]
    shared = stories(config, list(issues), placements, {"fiets": odd})
    html = str(
        _Pages(config, (), (), kennisbank(config, shared).partners, shared, None).story(
            shared[0], "../../", 3
        )
    )  # type: ignore[arg-type]
    assert "javascript:" not in html and "<h3>Een fiets voor elk kind in Zwolle</h3>" in html


def test_publishing_again_neither_writes_nor_indexes(site: tuple[Config, Path]) -> None:
    config, out = site
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    with Store(config.settings.state) as store:
        written = write_site(build_site(config, store, now=NOW), out)
    assert (written.changed, written.removed, written.indexed) == ((), (), False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    # A lost bundle file is noticed: the index is built again.
    fragment = next((out / "pagefind" / "fragment").iterdir())
    fragment.unlink()
    with Store(config.settings.state) as store:
        written = write_site(build_site(config, store, now=NOW), out)
    assert written.indexed and fragment in written.changed
    # Pagefind's index chunks may be laid out anew; every page and every other fragment stays.
    assert all(p.parent.name in ("index", "filter", "pagefind") for p in written.changed if p != fragment)


def test_nothing_is_rendered_when_nothing_changed_and_a_change_is_seen(site: tuple[Config, Path]) -> None:
    config, out = site
    with Store(config.settings.state) as store:
        assert build_site(config, store, now=NOW, out=out).skipped
        assert publish(config, store, out=out, now=NOW) == []
        # Time passes: the evening of 10 December is over, so the agenda (and only it) changes.
        later = dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.UTC)
        assert not build_site(config, store, now=later, out=out).skipped
        # An instance's own template counts as much as the data.
        own = config.root / "templates" / "site"
        own.mkdir(parents=True)
        page = (Path(__file__).parents[1] / "pipeline" / "templates" / "site" / "agenda.html").read_text()
        (own / "agenda.html").write_text(page.replace("<h1>Agenda</h1>", "<h1>Onze agenda</h1>"))
        environment.cache_clear()  # a new process would see the new folder; this one cached its absence
        written = publish(config, store, out=out, now=NOW)
        assert written == [out / "agenda" / "index.html"]
        assert "<h1>Onze agenda</h1>" in read(out, "agenda/index.html")
        shutil.rmtree(own)
        environment.cache_clear()
        assert publish(config, store, out=out, now=NOW) == [out / "agenda" / "index.html"]
        # A file lost from the folder is made again.
        (out / "thema" / "meedoen" / "index.html").unlink()
        assert publish(config, store, out=out, now=NOW) == [out / "thema" / "meedoen" / "index.html"]


def test_a_progress_activity_links_to_its_place_on_the_partners_page(site: tuple[Config, Path]) -> None:
    config, _out = site
    # collect's link for an activity without one (tests/test_monitoring.py reads it from the demo).
    url = f"{ARCHIVE}partner/gemeente-zwolle/#voortgang-2026-schuldhulp-aan-de-keukentafel"
    activity = dataclasses.replace(ITEMS["fiets"], id="act", url=url, kind="voortgang", title="Schuldhulp")
    with Store(config.settings.state) as store:
        seed(store, [activity], now=OCT)
        made, _ = rendered(
            config, "2026-10", {**ALL, "act": activity}, [*PLACED["2026-10"], ("partners", "act")]
        )
        store.db.execute("DELETE FROM sent_items WHERE issue = '2026-10'")
        store.db.execute("DELETE FROM sent_issues WHERE id = '2026-10'")
        seed(store, sent=[Sent("2026-10", OCT, [*PLACED["2026-10"], ("partners", "act")], OCT, made)])
        site = build_site(config, store, now=NOW)
    page = site.files["partner/gemeente-zwolle/index.html"].decode()
    assert '<article id="voortgang-2026-schuldhulp-aan-de-keukentafel">' in page
