"""Curate: draft, refresh, check, approve, status, on a temporary state database with fixed items."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import Cli, Sent, make_item, newsletter, seed, write_issue

from pipeline import curate
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, NotFound, Problem
from pipeline.domain.issues import IssueFileError, issue_path, set_program_fields
from pipeline.domain.models import Image, Item
from pipeline.infra.approval import approval_state, mark_sent
from pipeline.infra.instance import check_issue_file, load_config, load_issue
from pipeline.infra.store import Store

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ISSUE = "2026-12"
PATH = "issues/2026-12.yaml"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=UTC)


def item(item_id: str, partner: str | None, kind: str, published: str, **kw: object) -> Item:
    return make_item(item_id, at(published), partner=partner, kind=kind, **kw)  # type: ignore[no-any-return]


FIXTURE = [
    item("zwolle-fiets", "gemeente-zwolle", "story", "2026-11-28", themes=("meedoen", "onderwijs"),
         provinces=("overijssel",), ervaringsdeskundigen=True, title="Elk kind op de fiets naar school",
         image=Image("https://example.org/fiets.jpg", "Kinderen op de fiets", True)),
    item("zwolle-ontbijt", "gemeente-zwolle", "story", "2026-11-25", themes=("gezondheid",),
         provinces=("overijssel",), title="Gratis ontbijt op twaalf basisscholen"),
    item("zwolle-sportpas", "gemeente-zwolle", "story", "2026-11-20", themes=("meedoen",),
         provinces=("overijssel",), title="Sportpas voor alle kinderen"),
    item("laptops", "laptopfabriek", "story", "2026-11-22", themes=("meedoen", "onderwijs"),
         provinces=("landelijk",), title="1.200 opgeknapte laptops voor leerlingen",
         summary="Bedrijven leverden hun afgeschreven laptops in; De Laptopfabriek knapte ze op en scholen "
                 "gaven ze aan leerlingen die thuis geen computer hebben. " * 2),
    item("leerplicht", "leerplicht-rotterdam", "story", "2026-11-15", themes=("signaleren", "onderwijs"),
         provinces=("zuid-holland",), title="Leerplichtambtenaren leren armoede herkennen"),
    item("babyspullen", "jgz-fryslan", "story", "2026-11-27", themes=("gezondheid",), provinces=("friesland",),
         title="Babyspullen via de jeugdarts", image=Image("https://example.org/baby.jpg", None, None)),
    item("geldstress", None, "research", "2026-11-18", themes=("fijn-thuis",),
         title="Geldstress in gezinnen: wat werkt"),
    item("oud-onderzoek", None, "research", "2026-10-01", title="Onderzoek van voor het vorige nummer"),
    item("publieksacademie", "samen-alliantie", "event", "2026-09-01", title="Publieksacademie in Zwolle",
         starts=at("2026-12-10T18:30:00"), ends=at("2026-12-10T20:30:00"), location="Stadkamer, Zwolle"),
    item("online-sessie", "samen-alliantie", "event", "2026-11-24", title="Online sessie over geld op school",
         starts=at("2026-12-03T14:00:00"), location="online"),
    item("voorbij", "leergeld-brabant", "event", "2026-11-10", title="Inloopavond (al geweest)",
         starts=at("2026-11-20T18:00:00")),
    item("al-verstuurd", "gemeente-zwolle", "story", "2026-11-26", title="Al verstuurd in november"),
]  # fmt: skip


def put(store: Store, items: list[Item], now: dt.datetime = NOW) -> None:
    seed(store, items, now=now)


def record_sent(store: Store, issue_id: str, items: list[tuple[str, str]], started: str, done: bool) -> None:
    seed(store, sent=[Sent(issue_id, at(started), items, at(started) if done else None)])


@pytest.fixture
def config(demo_root: Path) -> Config:
    return load_config(demo_root)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store(config.settings.state) as s:
        put(s, FIXTURE)
        record_sent(s, "2026-11", [("partners", "al-verstuurd")], "2026-11-05T08:00:00", done=True)
        yield s


def drafted(config: Config, store: Store) -> str:
    path = curate.draft(config, store, ISSUE, now=NOW).path
    return path.read_text(encoding="utf-8")


def entries_of(text: str) -> list[str]:
    return re.findall(r"- item: (\S+)", text)


def write(config: Config, text: str) -> None:
    issue_path(config.root, ISSUE).write_text(text, encoding="utf-8")


# -- draft --------------------------------------------------------------------------------------
def test_draft_takes_candidates_since_the_last_issue_and_never_a_sent_item(
    config: Config, store: Store
) -> None:
    text = drafted(config, store)
    ids = entries_of(text)
    assert "al-verstuurd" not in ids  # sent in 2026-11
    assert "oud-onderzoek" not in ids  # published before the last issue went out
    assert "voorbij" not in ids  # an event that is over
    assert "publieksacademie" in ids  # announced long ago, but still to come
    issue = load_issue(config, ISSUE)
    assert [s.id for s in issue.sections] == ["uitgelicht", "partners", "kennis", "agenda", "voortgang"]
    assert issue.status == "draft" and issue.drafted == NOW
    # the partner cap: never more than two items from one partner in what goes out
    partners = [store.get_item(e.item).partner for _, e in issue.entries() if e.item]  # type: ignore[union-attr]
    assert partners.count("gemeente-zwolle") == 2
    assert [e.item for e in issue.sections[1].runners_up] == ["zwolle-sportpas"]


def test_draft_with_since_reaches_further_back(config: Config, store: Store) -> None:
    curate.draft(config, store, ISSUE, since=dt.date(2026, 9, 1), now=NOW)
    assert "oud-onderzoek" in entries_of(issue_path(config.root, ISSUE).read_text())


def test_draft_refuses_to_overwrite_and_refresh_needs_a_draft(config: Config, store: Store) -> None:
    with pytest.raises(NotFound) as missing:
        curate.draft(config, store, ISSUE, refresh=True, now=NOW)
    assert (missing.value.message, missing.value.hint) == (
        "there is no issues/2026-12.yaml to refresh",
        "run 'newsletter draft 2026-12' first",
    )
    drafted(config, store)
    with pytest.raises(curate.DraftRefused) as exists:
        curate.draft(config, store, ISSUE, now=NOW)
    assert (
        exists.value.message
        == "issues/2026-12.yaml exists already; drafting again would overwrite the editors' work"
    )
    assert (
        exists.value.hint
        == "run 'newsletter draft 2026-12 --refresh' to add new candidates, or delete the file to start over"
    )
    with pytest.raises(curate.DraftRefused) as sent:
        curate.draft(config, store, "2026-11", now=NOW)
    assert sent.value.message == "issue 2026-11 went to the list on 2026-11-05; it cannot be drafted again"


# -- refresh ------------------------------------------------------------------------------------
EDITED_TOP = """\
# Our notes for December: keep the laptops on top!
id: "2026-12"
subject: Fietsen, laptops en een avond in Zwolle   # short enough
preheader: Wat partners deze maand deden
intro: |
  Beste lezer,

  Dit keer **veel** over meedoen.
send_at: 2026-12-10 09:00
sections:
"""


def edit(text: str) -> str:
    """What an editor does: write the top, override a title, delete an entry, add an announcement and comments."""
    body = text.split("sections:\n", 1)[1]
    body = body.replace(
        "      - item: laptops\n", "      - item: laptops\n        title: Laptops voor school  # mine\n"
    )
    body = body.replace("    runners_up: []\n", "    # nothing here yet\n    runners_up: []   # keep\n", 1)
    body = re.sub(r"(?:      #.*\n)*      - item: babyspullen\n", "", body)
    body = re.sub(
        r"(  - section: agenda.*\n    items:\n)",
        r"\1      - title: Doe mee aan de sessie\n        summary: Elke twee weken.\n"
        r"        url: https://example.org/sessies\n",
        body,
    )
    return EDITED_TOP + body


NEW = [
    item("nieuw-verhaal", "woningcorporatie-oost", "story", "2026-11-30", title="Nieuw: energiecoaches",
         provinces=("gelderland",)),
    item("nieuw-onderzoek", None, "research", "2026-11-30", title="Nieuw onderzoek"),
    item("nieuw-event", "samen-alliantie", "event", "2026-11-30", title="Nieuwe sessie",
         starts=at("2026-12-17T14:00:00")),
]  # fmt: skip


def later(items: list[Item]) -> list[Item]:
    return [replace(i, first_seen=NOW + dt.timedelta(hours=2)) for i in items]


def test_refresh_adds_new_candidates_and_keeps_every_byte_of_the_editors_text(
    config: Config, store: Store
) -> None:
    edited = edit(drafted(config, store))
    write(config, edited)
    put(store, later(NEW), NOW + dt.timedelta(hours=2))
    curate.draft(config, store, ISSUE, refresh=True, now=NOW + dt.timedelta(hours=3))
    after = issue_path(config.root, ISSUE).read_text(encoding="utf-8")

    # Take the added entries (their comment lines and '- item:' line) and the program block out:
    # what is left is the edited file, byte for byte.
    added = r"(?:      # .*\n){3,4}      - item: nieuw-[a-z]+\n"
    assert len(re.findall(added, after)) == 3
    # ... except that 'runners_up: []' loses its brackets where entries were added below it.
    core = re.sub(added, "", after).replace("runners_up: []", "runners_up:")
    before = edited.replace("runners_up: []", "runners_up:")
    assert core.split("# ---- Written by the program")[0] == before.split("# ---- Written by the program")[0]
    assert "    # nothing here yet\n    runners_up: []   # keep\n" in after  # uitgelicht: nothing new
    assert after.endswith("status: draft\ndrafted: 2026-12-01 13:00:00+01:00\n")

    issue = load_issue(config, ISSUE)
    runners = {s.id: [e.item for e in s.runners_up] for s in issue.sections}
    assert runners["partners"] == ["zwolle-sportpas", "nieuw-verhaal"]
    assert runners["kennis"] == ["nieuw-onderzoek"]
    assert runners["agenda"] == ["nieuw-event"]
    assert "babyspullen" not in entries_of(after)  # the editor deleted it; it arrived before the draft


def test_refresh_adds_a_runners_up_key_to_a_section_without_one(config: Config, store: Store) -> None:
    text = drafted(config, store)
    text = re.sub(r"    runners_up: \[\]\n(  - section: agenda)", r"\1", text)  # kennis loses its key
    write(config, text)
    put(store, later(NEW[1:2]), NOW + dt.timedelta(hours=2))
    curate.draft(config, store, ISSUE, refresh=True, now=NOW + dt.timedelta(hours=3))
    after = issue_path(config.root, ISSUE).read_text(encoding="utf-8")
    assert "      - item: geldstress\n    runners_up:\n      # Nieuw onderzoek\n" in after
    assert [e.item for e in load_issue(config, ISSUE).sections[2].runners_up] == ["nieuw-onderzoek"]


def test_refresh_of_an_approved_issue_is_refused(config: Config, store: Store) -> None:
    text = drafted(config, store).replace("subject:   ", "subject: Onderwerp", 1)
    write(config, text)
    curate.approve(config, store, ISSUE, "Anna", now=NOW)
    with pytest.raises(curate.DraftRefused) as e:
        curate.draft(config, store, ISSUE, refresh=True, now=NOW)
    assert e.value.message == (
        "issue 2026-12 was approved by Anna on 2026-12-01 10:00; refreshing it would change what was approved"
    )
    assert e.value.hint == (
        "edit issues/2026-12.yaml by hand; to draft again, delete its 'status' and 'approval' lines first"
    )


# -- check --------------------------------------------------------------------------------------
FLAWED = """\
id: "2026-12"
subject: Dit onderwerp is veel te lang voor de meeste mailprogramma's op een telefoon
sections:
  - section: uitgelicht
    items:
      - item: zwolle-fiets
      - item: zwolle-ontbijt
  - section: partners
    items:
      - item: zwolle-fiets
      - item: bestaat-niet
      - item: al-verstuurd
      - item: babyspullen
      - title: Doe mee
        summary: Een aankondiging.
        url: https://example.org/doe-mee
        image: {url: "https://example.org/doe-mee.jpg"}
"""


def problems(config: Config, store: Store, text: str) -> list[tuple[int | None, str, str]]:
    """What 'newsletter check' prints for ``text`` (pipeline.run.check: curate's and the bulk-sender rules)."""
    from pipeline import run

    write(config, text)
    _issue, found = run.check(config, store, ISSUE)
    return [(p.line, p.severity, p.message) for p in found]


def test_check_reports_every_problem_with_its_line(config: Config, store: Store) -> None:
    assert problems(config, store, FLAWED) == [
        (1, "warning", "no preheader; write 'preheader: ...', the line mail apps show after the subject"),
        (2, "warning", "the subject is 76 characters; mail apps cut it at about 60, so shorten it"),
        (3, "warning", "4 of 7 items are from the partner 'gemeente-zwolle', more than 50%; look for others in 'runners_up'"),
        (3, "warning", "4 of 7 items are from the province 'overijssel', more than 50%; look for others in 'runners_up'"),
        (3, "warning", "no item from the sector 'Onderwijs' (onderwijs), which sources.yaml calls essential; promote one from 'runners_up'"),
        (4, "warning", "section 'uitgelicht' has 2 items, over its limit of 1; move 1 to 'runners_up'"),
        (10, "error", "item 'zwolle-fiets' is also in section 'uitgelicht' (line 6); keep it in one place"),
        (11, "error", "item 'bestaat-niet' is not in the state database; check the id with 'newsletter items' or run 'newsletter collect'"),
        (12, "warning", "'Al verstuurd in november' is item 3 from Gemeente Zwolle in this issue (the others: lines 6, 7); a draft takes at most 2 per partner: move one to 'runners_up'"),
        (12, "error", "item 'al-verstuurd' went out in issue 2026-11 already; remove it from this issue"),
        (13, "warning", "the image of 'Babyspullen via de jeugdarts' has no alt text and no consent, so it is left out; to show it, add 'image: {url: ..., alt: ..., consent: true}' to the entry"),
        (14, "error", "the image of 'Doe mee' has no alt text and no consent; add 'alt' (what the image shows) and 'consent: true' (everyone recognisable agreed) to its 'image', or remove the image"),
    ]  # fmt: skip


def test_check_reports_a_missing_subject_an_empty_issue_and_missing_coverage(
    config: Config, store: Store
) -> None:
    text = 'id: "2026-12"\npreheader: Kort\nsections:\n  - section: partners\n    items: []\n'
    assert problems(config, store, text) == [
        (1, "error", "no subject; write 'subject: ...', the line subscribers see in their inbox"),
        (3, "error", "no section has items; move entries from 'runners_up' into 'items'"),
    ]
    text = (
        'id: "2026-12"\nsubject: Kort\npreheader: Kort\nsections:\n  - section: kennis\n    items:\n'
        "      - item: geldstress\n"
    )
    assert problems(config, store, text) == [
        (4, "warning", "no item from the sector 'Gemeenten' (gemeenten), which sources.yaml calls essential; promote one from 'runners_up'"),
        (4, "warning", "no item from the sector 'Onderwijs' (onderwijs), which sources.yaml calls essential; promote one from 'runners_up'"),
        (4, "warning", "no item involves people with lived experience (ervaringsdeskundigen); consider promoting one"),
        (4, "warning", "no item on the theme 'Meedoen' (meedoen), which sources.yaml calls essential; promote one from 'runners_up'"),
    ]  # fmt: skip


def test_check_reports_an_unknown_section_from_the_structure_check(config: Config, store: Store) -> None:
    text = 'id: "2026-12"\nsubject: Kort\nsections:\n  - section: partner\n    items: []\n'
    assert problems(config, store, text) == [
        (4, "error", "unknown section 'partner': did you mean 'partners'? Known sections: uitgelicht, partners, kennis, agenda, voortgang"),
    ]  # fmt: skip


# -- links --------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        if self.path == "/no-head":
            self.send_response(405)
        else:
            self.send_response(200 if self.path.startswith("/ok") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1)
        try:
            self.send_response(404 if self.path == "/gone" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # /slow: the checker gave up and closed the connection, as it should

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_check_links_head_falls_back_to_get_and_names_each_broken_link(
    config: Config, store: Store, server: str
) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    dead = f"http://127.0.0.1:{closed.server_address[1]}/dead"
    closed.server_close()  # nothing listens there now
    entries = "".join(
        f"      - {{title: T{n}, summary: S, url: '{url}'}}\n"
        for n, url in enumerate([f"{server}/ok", f"{server}/no-head", f"{server}/gone", dead])
    )
    text = f'id: "2026-12"\nsubject: Kort\npreheader: Kort\nintro: Zie {server}/ok/intro.\nsections:\n  - section: partners\n    items:\n{entries}'
    write(config, text)
    issue = load_issue(config, ISSUE)
    found = curate.check(config, store, issue, links=True)
    assert [p for p in found if p.is_error and "link" in p.message] == [
        Problem(PATH, 10, f"link {server}/gone answers 404 Not Found; correct the address or remove it"),
        Problem(PATH, 11, f"link {dead} cannot be reached (ConnectError); correct the address or remove it"),
    ]


def test_check_links_is_bounded_in_time(config: Config, store: Store, server: str) -> None:
    write(config, READY)
    issue = load_issue(config, ISSUE)
    # /slow answers 200 after a second: only a timeout that works reports it.
    found = curate.check_links(issue, {f"{server}/slow": 7, f"{server}/ok": 8}, timeout=0.2)
    assert found == [
        Problem(PATH, 7, f"link {server}/slow did not answer within 0.2 s; correct the address or remove it")
    ]


# -- links: hygiene ---------------------------------------------------------------------------------
def link_warnings(
    config: Config, store: Store, entries: list[str], intro: str = "Beste lezer."
) -> list[tuple[int | None, str]]:
    """The link warnings of an issue whose entries (one line each) start on line 8."""
    lines = "".join(f"      - {e}\n" for e in entries)
    text = f'id: "2026-12"\nsubject: Kort\npreheader: Kort\nintro: {intro}\nsections:\n  - section: partners\n    items:\n{lines}'
    write(config, text)
    found = curate.check(config, store, load_issue(config, ISSUE))
    return [(p.line, p.message) for p in found if p.message.startswith("link ")]


def announcement(url: str, title: str = "Doe mee") -> str:
    return f"{{title: {title}, summary: Elke week., url: '{url}'}}"


def test_a_link_that_went_out_in_an_earlier_issue(config: Config, store: Store) -> None:
    # 'al-verstuurd' went out in 2026-11, with the link https://example.org/al-verstuurd
    assert link_warnings(config, store, [announcement("https://example.org/al-verstuurd#meer")]) == [
        (8, "link https://example.org/al-verstuurd#meer also went out in issue 2026-11 ('Al verstuurd in november'); "
            "readers saw it then: remove the entry, or link to what is new"),
    ]  # fmt: skip
    assert link_warnings(config, store, [announcement("https://example.org/nieuw")]) == []


def test_the_same_link_twice_in_one_issue(config: Config, store: Store) -> None:
    twice = [
        announcement("https://example.org/sessie"),
        "item: laptops",
        announcement("HTTPS://Example.org/sessie", "Nog eens"),
    ]
    assert link_warnings(config, store, twice) == [
        (10, "link HTTPS://Example.org/sessie is also the link of the entry on line 8; readers would get the same "
             "page twice: keep one of them"),
    ]  # fmt: skip
    # an item's own link, again in an announcement
    assert link_warnings(config, store, ["item: laptops", announcement("https://example.org/laptops")]) == [
        (9, "link https://example.org/laptops is also the link of the entry on line 8; readers would get the "
            "same page twice: keep one of them"),
    ]  # fmt: skip
    assert (
        link_warnings(
            config, store, [announcement("https://example.org/a"), announcement("https://example.org/b")]
        )
        == []
    )


def test_a_plain_http_link(config: Config, store: Store) -> None:
    found = link_warnings(
        config, store, [announcement("http://example.org/sessie")], intro="Zie http://example.org/intro."
    )
    http = (
        "is plain http://; write https:// if the site has it (mail apps and browsers warn readers about http)"
    )
    assert found == [
        (4, f"link http://example.org/intro {http}"),
        (8, f"link http://example.org/sessie {http}"),
    ]
    assert (
        link_warnings(
            config,
            store,
            [announcement("https://example.org/sessie")],
            intro="Zie https://example.org/intro.",
        )
        == []
    )


def test_tracking_parameters_the_partner_left_in(config: Config, store: Store) -> None:
    tracked = "https://example.org/sessie?id=3&fbclid=abc&utm_source=facebook"
    assert link_warnings(config, store, [announcement(tracked)]) == [
        (8, f"link {tracked} carries tracking parameters (fbclid, utm_source); remove them, the newsletter adds its own"),
    ]  # fmt: skip
    # inside a partner's summary that goes out as it is
    summary = '<p>Lees <a href="https://example.org/plan?gclid=1">het plan</a>.</p>'
    put(store, [item("met-link", "gemeente-zwolle", "story", "2026-11-28", summary_html=summary)])
    assert link_warnings(config, store, ["item: met-link"]) == [
        (8, "link https://example.org/plan?gclid=1 carries tracking parameters (gclid); remove them, the "
            "newsletter adds its own"),
    ]  # fmt: skip
    assert link_warnings(config, store, ["{item: met-link, summary: Lees het plan.}"]) == []
    assert link_warnings(config, store, [announcement("https://example.org/sessie?id=3")]) == []


# -- approval -----------------------------------------------------------------------------------
READY = """\
id: "2026-12"
subject: Fietsen en laptops   # a comment
preheader: Wat partners deden
sections:
  - section: partners
    items:
      - item: zwolle-fiets
      - item: leerplicht
    runners_up:
      - item: laptops
"""


def test_approve_binds_the_content_and_any_edit_or_item_change_undoes_it(
    config: Config, store: Store
) -> None:
    write(config, READY)
    approval = curate.approve(config, store, ISSUE, "  Anna   de Vries ", now=NOW)
    text = issue_path(config.root, ISSUE).read_text()
    assert text.startswith(READY)  # the editor's text untouched, the block appended
    assert text[len(READY) :] == (
        "\n# ---- Written by the program (draft, approve, send): do not edit below this line ----\n"
        "status: approved\napproval:\n  by: Anna de Vries\n  at: 2026-12-01 10:00:00+01:00\n"
        f"  fingerprint: {approval.fingerprint}\n"
    )
    state = lambda: approval_state(config, store, load_issue(config, ISSUE))  # noqa: E731
    assert state() == "approved"
    # comments, runners-up and the program block are not content
    write(
        config,
        text.replace("# a comment", "# another comment").replace("- item: laptops", "- item: geldstress"),
    )
    assert state() == "approved"
    write(config, text.replace("Fietsen en laptops", "Fietsen en laptops!"))
    assert state() == "changed"
    write(config, text)
    assert state() == "approved"
    put(store, [replace(FIXTURE[0], title="Elk kind op de fiets (bijgewerkt)")])
    assert state() == "changed"
    curate.approve(config, store, ISSUE, "Bram", now=NOW)
    assert state() == "approved"
    record_sent(store, ISSUE, [("partners", "zwolle-fiets")], "2026-12-10T08:00:00", done=False)
    assert state() == "sending"
    with pytest.raises(curate.ApprovalRefused) as e:
        curate.approve(config, store, ISSUE, "Anna", now=NOW)
    assert e.value.message == "issue 2026-12 is being sent; approving it changes nothing"
    with store.transaction():
        store.complete_sent_issue(ISSUE, NOW)
    assert state() == "sent"
    mark_sent(config, ISSUE)
    assert load_issue(config, ISSUE).status == "sent"
    assert issue_path(config.root, ISSUE).read_text().startswith(READY)


def test_approve_is_refused_while_check_reports_errors(config: Config, store: Store) -> None:
    write(config, READY.replace("leerplicht", "bestaat-niet"))
    with pytest.raises(InputInvalid) as e:
        curate.approve(config, store, ISSUE, "Anna", now=NOW)
    assert [str(p) for p in e.value.problems if p.is_error] == [
        "issues/2026-12.yaml:8: item 'bestaat-niet' is not in the state database; check the id with "
        "'newsletter items' or run 'newsletter collect'"
    ]
    assert "approval" not in issue_path(config.root, ISSUE).read_text()


def test_refresh_refuses_runners_up_written_on_one_line(config: Config, store: Store) -> None:
    text = drafted(config, store)
    text = re.sub(r"    runners_up:\n(?:      #.*\n)*      - item: zwolle-sportpas\n",
                  "    runners_up: [{item: zwolle-sportpas}]\n", text)  # fmt: skip
    write(config, text)
    put(store, later(NEW[:1]), NOW + dt.timedelta(hours=2))
    with pytest.raises(IssueFileError) as e:
        curate.draft(config, store, ISSUE, refresh=True, now=NOW + dt.timedelta(hours=3))
    assert (e.value.message, e.value.hint) == (
        "issues/2026-12.yaml:64: the runners-up of section 'partners' are written on one line",
        "write them as a list, one '- item: ID' line each, then run draft --refresh again",
    )
    assert issue_path(config.root, ISSUE).read_text() == text  # nothing written


def test_program_fields_move_to_the_end_and_nothing_else_changes(config: Config) -> None:
    text = 'id: "2026-12"\r\nstatus: draft   # moved here by someone\r\n# about sections\r\nsections:\r\n  - {section: partners, items: [{item: x}]}\r\n'
    out = set_program_fields(text, PATH, status="approved")
    assert out == (
        'id: "2026-12"\r\n# about sections\r\nsections:\r\n  - {section: partners, items: [{item: x}]}\r\n\r\n'
        "# ---- Written by the program (draft, approve, send): do not edit below this line ----\r\n"
        "status: approved\r\n"
    )
    path = issue_path(config.root, ISSUE)
    path.parent.mkdir(exist_ok=True)
    path.write_text(out, encoding="utf-8", newline="")
    issue, found = check_issue_file(path, config, PATH)
    assert issue is not None and issue.status == "approved" and found == []


# -- the commands -------------------------------------------------------------------------------
def test_commands_draft_check_approve_status(cli: Cli, config: Config, store: Store) -> None:
    store.close()
    r = cli("draft", ISSUE, "--since", "2026-11-05")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("Drafted issues/2026-12.yaml: ")
    r = cli("check", ISSUE)
    assert r.exit_code == 1
    assert r.output.splitlines()[0] == (
        "issues/2026-12.yaml:29: no subject; write 'subject: ...', the line subscribers see in their inbox"
    )
    # The warnings: no preheader; the laptops story's long sentences (B1: the partner's summary).
    assert r.output.splitlines()[-1] == "Error: 1 error, 3 warnings in issues/2026-12.yaml."
    assert (
        "B1: the partner's summary of '1.200 opgeknapte laptops voor leerlingen' (De Laptopfabriek)"
        in r.output
    )
    r = cli("approve", ISSUE, "--by", "Anna")
    assert r.exit_code == 1
    assert r.output.splitlines()[-2:] == [
        "Error: not approved: 1 error in issues/2026-12.yaml.",
        "Fix: correct them (newsletter check 2026-12), then approve again.",
    ]
    path = issue_path(cli.root, ISSUE)
    path.write_text(path.read_text().replace("subject:   ", "subject: Kort", 1))
    r = cli("approve", ISSUE, "--by", "Anna")
    assert r.exit_code == 0, r.output
    assert re.fullmatch(
        r"Approved issues/2026-12.yaml by Anna at \d{4}-\d\d-\d\d \d\d:\d\d \(sha256:[0-9a-f]{12}\).\n",
        r.output,
    )
    r = cli("status")
    assert r.output.splitlines()[0] == "ISSUE         STATE                    SEND AT           DETAILS"
    assert (
        r.output.splitlines()[1]
        == "2026-11       sent                     2026-11-05 09:00  accepted 0, pending 0"
    )
    assert r.output.splitlines()[2].startswith(
        "2026-12       approved                 -                 approved by Anna at "
    )
    path.write_text(path.read_text().replace("subject: Kort", "subject: Korter"))
    assert " changed since approval " in cli("status").output.splitlines()[2]


@pytest.mark.parametrize("command", ["draft", "check", "approve", "status"])
def test_every_command_documents_an_example(cli: Cli, command: str) -> None:
    r = cli(command, "--help")
    assert r.exit_code == 0 and "newsletter " + command in r.output.split("Example")[1]


# -- feeds without a kind ---------------------------------------------------------------------------
def _edit_sources(root: Path, *changes: tuple[str, str]) -> None:
    sources = root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    for old, new in (("feeds/gemeente-zwolle.rss, kind: story", "feeds/gemeente-zwolle.rss"), *changes):
        text = re.sub(old, new, text, flags=re.M) if old.startswith("^") else text.replace(old, new)
    sources.write_text(text, encoding="utf-8")


def test_a_partner_feed_without_kind_gives_stories_and_the_draft_places_them(demo_root: Path) -> None:
    """14 such feeds once drafted '0 items in 4 sections' with no word why: every section lists kinds."""
    _edit_sources(demo_root)
    assert newsletter(demo_root, "validate", "sources.yaml").returncode == 0
    assert newsletter(demo_root, "collect").returncode == 0
    with Store(load_config(demo_root).settings.state) as store:
        zwolle = store.items(source="gemeente-zwolle")
    assert zwolle and {i.kind for i in zwolle} == {"story"}
    drafted = newsletter(demo_root, "draft", "2026-12", "--since", "2026-10-01")
    assert drafted.returncode == 0 and drafted.stderr == ""
    issue = load_issue(load_config(demo_root), "2026-12")
    assert {e.item for s in issue.sections for e in (*s.items, *s.runners_up)} >= {i.id for i in zwolle}


def test_without_that_kind_in_the_taxonomy_validate_and_draft_say_why(demo_root: Path) -> None:
    _edit_sources(
        demo_root,
        ("feeds/jgz-fryslan.atom, kind: story", "feeds/jgz-fryslan.atom, kind: tool"),
        ("kinds: [story, research]", "kinds: [research]"),
        ("kinds: [story, tool]", "kinds: [tool]"),
        (r"^    - \{id: story, .*\n", ""),
    )
    shutil.rmtree(demo_root / "submissions")  # they are stories too
    checked = newsletter(demo_root, "validate", "sources.yaml")
    assert checked.returncode == 0
    assert re.search(
        r"^sources\.yaml:\d+: warning: this feed has no 'kind', and the taxonomy has no 'story' to use instead;"
        r" its items go only into sections that take every kind: add 'kind: ID' \(one of ",
        checked.stderr,
        re.M,
    ), checked.stderr
    assert newsletter(demo_root, "collect").returncode == 0
    drafted = newsletter(demo_root, "draft", "2026-12", "--since", "2026-10-01")
    assert drafted.returncode == 0
    assert re.search(
        r"^warning: \d+ candidate\(s\) have no kind, and every section lists the kinds it takes "
        r"\(from: gemeente-zwolle\); add 'kind: ID' to those feeds in sources\.yaml$",
        drafted.stderr,
        re.M,
    ), drafted.stderr


@pytest.mark.parametrize(
    ("send_at", "expected"),
    [
        (  # 28 March 2027: 02:00 becomes 03:00
            "2027-03-28 02:30",
            "send_at 2027-03-28 02:30 does not exist: the clocks go forward that night, so it counts as"
            " 03:30 CEST; choose another time",
        ),
        (  # 31 October 2027: 03:00 becomes 02:00
            "2027-10-31 02:15",
            "send_at 2027-10-31 02:15 comes twice: the clocks go back that night; it counts as the first"
            " (02:15 CEST); write 2027-10-31 02:15+02:00 or 2027-10-31 02:15+01:00 to choose",
        ),
        ("2027-10-31 02:15+01:00", None),  # the second, chosen
        ("2027-10-31 03:15", None),
        ("2027-03-28 03:30", None),
    ],
)
def test_a_send_at_the_clocks_skip_or_pass_twice_is_a_warning(
    demo_root: Path, config: Config, send_at: str, expected: str | None
) -> None:
    path = write_issue(demo_root, send_at=send_at)
    issue, problems = check_issue_file(path, config, "issues/2026-12.yaml")
    assert issue is not None  # a warning: the issue still goes, at the time the warning names
    assert [(p.severity, p.message) for p in problems if "send_at" in p.message] == (
        [("warning", expected)] if expected else []
    )
