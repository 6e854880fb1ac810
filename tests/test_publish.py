"""Publish: the archive of sent issues built from a temporary state database filled through
``Store`` with issues rendered by the real render stage; the feed read back with feedparser.

The fixture: the demo instance's settings (archive under a sub-path, /archief/), issue 2026-10
(three stories, one of them research with a public contact address) and issue 2026-11 (two
stories), sent a month apart.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from conftest import Cli, Sent, make_item, seed

from pipeline.domain.config import Config
from pipeline.domain.issues import Entry, Issue, Section
from pipeline.domain.models import Item, Rendered
from pipeline.domain.tokens import TOKEN_NAME, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
from pipeline.infra.subscribers import read_subscribers
from pipeline.publish import ArchivedIssue, atom_feed, build_site, public_page, publish
from pipeline.render import render_issue

UTC = dt.UTC
OCT = dt.datetime(2026, 10, 8, 7, 0, tzinfo=UTC)  # 09.00 in Amsterdam (summer time)
NOV = dt.datetime(2026, 11, 11, 23, 30, tzinfo=UTC)  # 00.30 on 12 November in Amsterdam
NOW = dt.datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # after both sends: no test depends on today's date
ARCHIVE = "https://nieuwsbrief.example.org/archief/"


def item(
    id: str, title: str, partner: str | None, themes: tuple[str, ...], kind: str = "story", summary: str = ""
) -> Item:
    return make_item(  # type: ignore[no-any-return]
        id, dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC), partner=partner, url=f"https://www.example.nl/verhalen/{id}",
        title=title, summary=summary or title, kind=kind, themes=themes, first_seen=None,
        summary_html=f"<p>{html.escape(summary or title)}</p>",  # sanitised, as collect leaves it
    )  # fmt: skip


ITEMS = {
    "fiets": item("fiets", "Een fiets voor elk kind in Zwolle", "gemeente-zwolle", ("meedoen",)),
    "laptop": item(
        "laptop", "Laptops & schoolspullen <opgeknapt>", "laptopfabriek", ("meedoen", "onderwijs")
    ),
    "onderzoek": item(
        "onderzoek",
        "Stress bij ouders met schulden",
        None,
        ("inkomen-schulden",),
        kind="research",
        summary="Vragen? Mail onderzoek@kenniscentrum.example.nl voor het rapport.",
    ),
    "ontbijt": item("ontbijt", "Ontbijt op school in Fryslân", "jgz-fryslan", ("gezondheid", "onderwijs")),
    "sessie": item(
        "sessie", "Online sessie: signaleren op school", "samen-alliantie", ("signaleren",), "event"
    ),
}
ISSUES = {
    "2026-10": ("Fietsen, laptops en stress", "Wat partners in oktober deden", OCT,
                [("partners", "fiets"), ("partners", "laptop"), ("kennis", "onderzoek")]),
    "2026-11": ("Ontbijt & signaleren", "Het novembernummer", NOV, [("partners", "ontbijt"), ("agenda", "sessie")]),
}  # fmt: skip


def rendered(
    config: Config, issue_id: str, items: dict[str, Item] = ITEMS, placed: list[tuple[str, str]] | None = None
) -> tuple[Rendered, list[tuple[str, str]]]:
    """The issue as the render stage makes it (its real web page), and its (section, item) list."""
    subject, preheader, at, default = ISSUES[issue_id]
    placed = placed or default
    sections = []
    for section in dict.fromkeys(s for s, _ in placed):
        entries = tuple(Entry(line=1, item=i) for s, i in placed if s == section)
        sections.append(Section(section, 1, entries))
    issue = Issue(issue_id, f"issues/{issue_id}.yaml", subject, preheader, "Beste lezer,", at, "approved",
                  tuple(sections))  # fmt: skip
    return render_issue(config, issue, items), placed


def send(store: Store, config: Config, issue_id: str, r: Rendered | None = None) -> None:
    """Record an issue as sent to the list, as deliver does before its first request."""
    made, placed = rendered(config, issue_id)
    at = ISSUES[issue_id][2]
    seed(store, sent=[Sent(issue_id, at, placed, at + dt.timedelta(minutes=5), r or made)])


@pytest.fixture
def archive(demo_root: Path) -> Iterator[tuple[Config, Store]]:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        seed(store, list(ITEMS.values()), now=OCT)
        send(store, config, "2026-10")
        send(store, config, "2026-11")
        yield config, store


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def text(folder: Path, rel: str) -> str:
    return (folder / rel).read_text(encoding="utf-8")


def test_the_site_holds_every_page(archive: tuple[Config, Store]) -> None:
    config, store = archive
    written = publish(config, store, now=NOW)
    site = config.root / "build" / "site"
    pages = sorted(
        str(p.relative_to(site)) for p in written if not str(p.relative_to(site)).startswith("pagefind/")
    )
    # Every partner has a page (its pledge); themes and provinces only where a story went out.
    assert pages == [
        "2026-10/index.html", "2026-11/index.html", "agenda.ics", "agenda/index.html", "feed.xml", "index.html",
        "partner/gemeente-zwolle/index.html", "partner/index.html", "partner/jgz-fryslan/index.html",
        "partner/laptopfabriek/index.html", "partner/leergeld-brabant/index.html",
        "partner/leerplicht-rotterdam/index.html", "partner/samen-alliantie/index.html",
        "partner/woningcorporatie-oost/index.html", "provincie/friesland/index.html",
        "provincie/index.html", "provincie/landelijk/index.html", "provincie/overijssel/index.html", "sitemap.xml",
        "thema/gezondheid/index.html", "thema/index.html", "thema/inkomen-schulden/index.html",
        "thema/meedoen/index.html", "thema/onderwijs/index.html", "thema/signaleren/index.html",
        "zoeken/index.html",
    ]  # fmt: skip
    # Each issue page is the web page as it was sent (render's holds nothing personal), with the
    # archive's head tags and a way on (the archive, search, sign-up) added.
    sent = {row.id: row.web_html for row in store.sent_issues()}
    page = text(site, "2026-10/index.html")
    added_head = page[page.index('<link rel="canonical"') : page.index("</head>")]
    added_nav = page[page.index('<nav aria-label="Archief"') : page.index("</body>")]
    assert page.replace(added_head, "").replace(added_nav, "") == sent["2026-10"]
    assert f'<link rel="canonical" href="{ARCHIVE}2026-10/">' in added_head
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Nieuwsbrief Samen tegen Kinderarmoede (demo)" href="{ARCHIVE}feed.xml">'
        in added_head
    )
    assert '<meta property="og:title" content="Fietsen, laptops en stress">' in added_head
    assert (
        '<a href="https://nieuwsbrief.example.org/aanmelden">Aanmelden voor de nieuwsbrief</a>' in added_nav
    )

    index = text(site, "index.html")
    assert '<html lang="nl">' in index
    # Newest first, with the Dutch date in Amsterdam time (00.30 on 12 November, not the 11th in UTC).
    assert index.index("Ontbijt &amp; signaleren") < index.index("Fietsen, laptops en stress")
    assert '<time datetime="2026-11-12">12 november 2026</time>' in index
    assert '<time datetime="2026-10-08">8 oktober 2026</time>' in index
    assert "Het novembernummer" in index
    assert '<a href="2026-11/index.html">Ontbijt &amp; signaleren</a>' in index
    assert '<a class="skip" href="#inhoud">' in index and '<main id="inhoud"' in index

    meedoen = text(site, "thema/meedoen/index.html")
    assert "<h1>Meedoen</h1>" in meedoen
    assert "Laptops &amp; schoolspullen &lt;opgeknapt&gt;" in meedoen  # escaped, never markup
    assert '<a href="https://www.example.nl/verhalen/fiets">Een fiets voor elk kind in Zwolle</a>' in meedoen
    assert '<a href="../../2026-10/index.html">Fietsen, laptops en stress</a>' in meedoen
    assert '<a href="../../partner/gemeente-zwolle/index.html">Gemeente Zwolle</a>' in meedoen
    assert "Ontbijt op school" not in meedoen
    onderwijs = text(site, "thema/onderwijs/index.html")  # newest issue's story first
    assert onderwijs.index("Ontbijt op school") < onderwijs.index("Laptops &amp; schoolspullen")

    zwolle = text(site, "partner/gemeente-zwolle/index.html")
    assert "<h1>Gemeente Zwolle</h1>" in zwolle and "Gemeenten · Overijssel" in zwolle
    assert '<a href="https://www.zwolle.example.nl/">Website van Gemeente Zwolle</a>' in zwolle
    assert "1 bericht uit de nieuwsbrief" in zwolle
    # A story from a source that is not a partner (the research institute) has no partner page.
    assert not (site / "partner" / "kenniscentrum").exists()
    assert "Inkomen en schulden" in text(site, "thema/index.html")
    assert '<a href="../partner/laptopfabriek/index.html">De Laptopfabriek</a>' in text(
        site, "partner/index.html"
    )


def test_links_work_under_the_archive_sub_path(archive: tuple[Config, Store]) -> None:
    config, store = archive
    publish(config, store, now=NOW)
    site = config.root / "build" / "site"
    for rel, data in files_of(site).items():
        if not rel.endswith(".html") or rel.split("/")[0] in ISSUES or rel.startswith("pagefind/"):
            continue  # issue pages are render's; their one archive link is absolute
        for url in re.findall(r'(?:href|src)="([^"]*)"', data.decode()):
            # Relative, or absolute to the archive or a story: never from the host's root ("/...").
            assert not url.startswith("/"), (rel, url)
            if not url.startswith(("https://", "http://", "#")):
                target = (site / rel).parent / url.split("#")[0]
                assert target.resolve().is_file(), f"{rel} links to {url}, which is not in the site"
    locs = re.findall(r"<loc>([^<]*)</loc>", text(site, "sitemap.xml"))
    assert len(locs) == 23  # every page (.html) but the search bundle's
    assert all(loc.startswith(ARCHIVE) for loc in locs)
    assert f"<loc>{ARCHIVE}</loc>" in text(site, "sitemap.xml")
    assert f"<loc>{ARCHIVE}2026-11/</loc>\n    <lastmod>2026-11-12</lastmod>" in text(site, "sitemap.xml")
    assert f"<loc>{ARCHIVE}thema/meedoen/</loc>\n    <lastmod>2026-10-08</lastmod>" in text(
        site, "sitemap.xml"
    )


def test_the_feed_reads_back_with_feedparser(archive: tuple[Config, Store]) -> None:
    config, store = archive
    publish(config, store, now=NOW)
    feed = feedparser.parse((config.root / "build" / "site" / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Nieuwsbrief Samen tegen Kinderarmoede (demo)"
    assert feed.feed.id == ARCHIVE
    assert feed.feed.updated == "2026-11-11T23:30:00Z"  # the newest issue's send, not the clock
    assert [(e.id, e.title, e.link, e.updated, e.summary) for e in feed.entries] == [
        (f"{ARCHIVE}2026-11/", "Ontbijt & signaleren", f"{ARCHIVE}2026-11/", "2026-11-11T23:30:00Z",
         "Het novembernummer"),
        (f"{ARCHIVE}2026-10/", "Fietsen, laptops en stress", f"{ARCHIVE}2026-10/", "2026-10-08T07:00:00Z",
         "Wat partners in oktober deden"),
    ]  # fmt: skip
    assert feed.entries[0].published_parsed[:5] == (2026, 11, 11, 23, 30)


def test_publishing_again_after_a_send_adds_it_and_changes_nothing_else(demo_root: Path) -> None:
    config = load_config(demo_root)
    site = demo_root / "build" / "site"
    with Store(config.settings.state) as store:
        with store.transaction():
            for it in ITEMS.values():
                store.put_item(it, it.id, OCT)
        send(store, config, "2026-10")
        publish(config, store, now=NOW)
        before = files_of(site)
        mtimes = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
        assert publish(config, store, now=NOW) == []  # nothing new: nothing written
        assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == mtimes
        old_feed = feedparser.parse(before["feed.xml"]).entries

        send(store, config, "2026-11")
        written = publish(config, store, now=NOW)
    after = files_of(site)
    changed = {rel for rel in after if before.get(rel) != after[rel]}
    # The new issue, its stories' theme and partner pages (and the lists of them), the index,
    # the feed and the sitemap; thema/meedoen, the 2026-10 page and the rest stay byte-identical.
    # The search page (its count and filters) and the search index change too.
    assert {rel for rel in changed if not rel.startswith("pagefind/")} == {
        ".published", "2026-11/index.html", "index.html", "feed.xml", "sitemap.xml",
        "thema/index.html", "thema/onderwijs/index.html", "thema/gezondheid/index.html",
        "thema/signaleren/index.html", "partner/index.html", "partner/jgz-fryslan/index.html",
        "partner/samen-alliantie/index.html", "provincie/index.html", "provincie/friesland/index.html",
        "provincie/landelijk/index.html", "zoeken/index.html",
        "partner/leerplicht-rotterdam/index.html",  # its pledge's theme signaleren now has a page to link to
    }  # fmt: skip
    assert "pagefind/records.sha256" in changed and "pagefind/pagefind-entry.json" in changed
    # October's stories keep their search fragments: only November's are new.
    assert len([rel for rel in changed if rel.startswith("pagefind/fragment/")]) == 2
    assert sorted(str(p.relative_to(site)) for p in written) == sorted(changed - {".published"})
    new_feed = feedparser.parse(after["feed.xml"]).entries
    assert [e.id for e in new_feed] == [f"{ARCHIVE}2026-11/", f"{ARCHIVE}2026-10/"]
    assert (new_feed[1].id, new_feed[1].updated, new_feed[1].title) == (
        old_feed[0].id,
        old_feed[0].updated,
        old_feed[0].title,
    )


def test_files_of_a_withdrawn_page_go_and_the_users_own_files_stay(archive: tuple[Config, Store]) -> None:
    config, store = archive
    out = config.root / "public"
    publish(config, store, out=out, now=NOW)
    (out / "CNAME").write_text("nieuwsbrief.example.org\n")
    # As of a moment before November's send, the November issue and its stories are not there.
    publish(config, store, out=out, now=OCT + dt.timedelta(days=1))
    assert not (out / "2026-11").exists()
    assert not (out / "thema" / "signaleren").exists() and not (out / "provincie" / "friesland").exists()
    assert "Er stond nog niets van" in text(out, "partner/jgz-fryslan/index.html")  # its pledge stays
    assert (out / "thema" / "meedoen" / "index.html").is_file()
    assert (out / "CNAME").read_text() == "nieuwsbrief.example.org\n"
    assert len(feedparser.parse((out / "feed.xml").read_bytes()).entries) == 1
    assert "De eerste verstuurde nieuwsbrief van" in text(out, "index.html")


def test_personal_parts_never_reach_the_site(archive: tuple[Config, Store]) -> None:
    config, store = archive
    subscribers = [s.email for s in read_subscribers(config.settings.subscribers)]
    assert subscribers
    # A web page into which, by a template mistake, every per-recipient part slipped.
    made, _ = rendered(config, "2026-10")
    leaked = made.web_html.replace(
        "<main>",
        f"<main><p>Beste {TOKEN_NAME}, je krijgt dit op {subscribers[0]}.</p>"
        f'<p><a href="{TOKEN_UNSUBSCRIBE}">Afmelden</a> · <a href="{TOKEN_PREFERENCES}">Voorkeuren</a>'
        f' · <a href="mailto:{subscribers[1]}">{subscribers[1]}</a> · nl-token-name'
        ' · <a href="https://nl-token.invalid/unsubscribe">Uit</a></p>',
    )
    assert leaked != made.web_html
    with store.transaction():
        store.db.execute("DELETE FROM sent_items WHERE issue = '2026-10'")
        store.db.execute("DELETE FROM sent_issues WHERE id = '2026-10'")
    send(store, config, "2026-10", Rendered(
        "2026-10", f"{TOKEN_NAME}, fietsen", made.preheader, made.html, made.text, leaked))  # fmt: skip

    result = Cli(config.root)("publish")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Warning: 2026-10: removed ")
    site = config.root / "build" / "site"
    # The search index is compressed: its records (made from the stories alone) are checked instead.
    with Store(config.settings.state) as again:
        records = "".join(build_site(config, again).records.values())
    pages = [data for rel, data in files_of(site).items() if not rel.startswith("pagefind/")]
    everything = (b"".join(pages).decode() + records).lower()
    for address in subscribers:
        assert address not in everything
    for token in ("%naam%", "asm_", "nl-token", "afmelden", "voorkeuren"):
        assert token not in everything
    page = text(site, "2026-10/index.html")
    assert "[adres verwijderd]" in page
    assert "onderzoek@kenniscentrum.example.nl" in page  # a story's public contact stays
    assert "mailto:redactie@example.org" in page  # and so does the newsletter's own address
    assert '<h2><a href="2026-10/index.html">fietsen</a></h2>' in text(site, "index.html")


def test_public_page_removes_links_and_addresses() -> None:
    page = (
        '<p>Hoi %naam%! <a href="&lt;%asm_group_unsubscribe_raw_url%&gt;">Afmelden</a> '
        '<a href="mailto:Jan@Voorbeeld.nl?subject=x">Jan</a> <a href="mailto:info@partner.nl">info</a> '
        "piet@voorbeeld.nl 50%korting%</p>"
        '<img src="https://cdn.example.nl/logo@2x.png" alt="Logo">'
        '<a href="https://t.example.nl/c?email=kees%40voorbeeld.nl">Lees meer</a>'
    )
    clean, removed = public_page(page, frozenset({"info@partner.nl"}))
    assert clean == (
        '<p>Hoi !  [adres verwijderd] <a href="mailto:info@partner.nl">info</a> '
        "[adres verwijderd] 50%korting%</p>"
        '<img src="https://cdn.example.nl/logo@2x.png" alt="Logo">'
        '<a href="https://t.example.nl/c?email=[adres verwijderd]">Lees meer</a>'
    )
    assert sorted(removed) == [
        "a per-recipient link", "a per-recipient token", "an e-mail address", "an e-mail address",
        "an e-mail address",
    ]  # fmt: skip
    assert public_page("<p>Niets persoonlijks.</p>", frozenset()) == ("<p>Niets persoonlijks.</p>", [])


def test_command_prints_what_it_wrote(archive: tuple[Config, Store], tmp_path: Path) -> None:
    config, _ = archive
    cli = Cli(config.root)
    out = tmp_path / "www"
    first = cli("publish", "--out", str(out))
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == (
        f"Published 2 issues, 5 theme, 3 province and 7 partner pages to {out}/: 43 files written, 0 unchanged."
    )
    province_pages = {
        line for line in lines if line.startswith(f"  {out}/provincie/") and line.endswith("/index.html")
    }
    assert len(province_pages) == 1 + 3, province_pages  # the list of provinces and a page for each
    assert f"  {out}/2026-10/index.html" in lines
    assert lines[-1] == f"Open {out}/index.html; feed: {ARCHIVE}feed.xml"
    again = cli("publish", "--out", str(out))
    assert again.stdout.splitlines()[0].endswith(": 0 files written, 43 unchanged.")
    assert "Example" in cli("publish", "--help").output


def test_an_empty_archive_says_so(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        site = build_site(config, store, now=OCT - dt.timedelta(days=1))
    assert sorted(rel for rel in site.files if not rel.startswith("partner/")) == [
        "agenda.ics",
        "agenda/index.html",
        "feed.xml",
        "index.html",
        "sitemap.xml",
        "zoeken/index.html",
    ]
    assert "Er staan nu geen bijeenkomsten in de agenda." in site.files["agenda/index.html"].decode()
    assert "Er is nog geen nieuwsbrief verstuurd." in site.files["index.html"].decode()
    feed = feedparser.parse(site.files["feed.xml"])
    assert not feed.bozo and feed.entries == []


def test_an_issue_id_the_archive_uses_itself_is_refused(archive: tuple[Config, Store]) -> None:
    config, store = archive
    made, _ = rendered(config, "2026-10")
    clash = Rendered("thema", made.subject, made.preheader, made.html, made.text, made.web_html)
    with store.transaction():
        store.record_sent_issue(clash, "fp", [], NOV)
    result = Cli(config.root)("publish")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: issue 'thema' cannot be published: {ARCHIVE}thema/ is the archive's own",
        "Fix: the archive keeps .published, agenda, agenda.ics, feed.xml, index.html, pagefind, partner, "
        "provincie, sitemap.xml, thema, zoeken for itself; "
        "name issues by date (2026-12) from now on",
    ]


def test_research_from_a_source_shows_its_name(archive: tuple[Config, Store]) -> None:
    config, store = archive
    site = build_site(config, store, now=NOW)
    page = site.files["thema/inkomen-schulden/index.html"].decode()
    assert '<p class="meta">Kenniscentrum Armoede en Jeugd · Onderzoek</p>' in page
    assert "Vragen? Mail onderzoek@kenniscentrum.example.nl voor het rapport." in page


def test_without_a_state_database_the_command_says_send_first(cli: Cli) -> None:
    result = cli("publish")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: no state database at state/newsletter.sqlite3: nothing has been sent yet",
        "Fix: the archive holds sent issues only; send one first ('newsletter send ISSUE'), then publish",
    ]
    assert not (cli.root / "build" / "site").exists()
    assert not (cli.root / "state").exists()


def test_the_feed_escapes_what_a_subject_may_hold(archive: tuple[Config, Store]) -> None:
    config, _ = archive
    odd = ArchivedIssue(
        "2026-10", "Kansen <voor> kinderen & \"ouders\"\x0b", "Één ‘preheader’ met ]]> erin", OCT,
        "8 oktober 2026", "2026-10-08", "2026-10/index.html", f"{ARCHIVE}2026-10/",
    )  # fmt: skip
    feed = feedparser.parse(atom_feed(config, [odd], OCT))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[0].title == 'Kansen <voor> kinderen & "ouders"'  # the control character dropped
    assert feed.entries[0].summary == "Één ‘preheader’ met ]]> erin"
