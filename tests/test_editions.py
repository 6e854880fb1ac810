"""Editions of one issue: a section personalised by the readers' provinces or themes.

The format and its checks, the arrangement (hers first, the rest folded or left out), the approval
that goes stale when an edition would change, and the send: one edition per request, each reader
exactly once, also when the sender is killed between two editions, on both engines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import REPO, newsletter
from servers import running_serve

from pipeline.domain.approval import content_fingerprint
from pipeline.domain.editions import Choice, arrange, effective, from_columns, issue_tags, parse_view_as
from pipeline.domain.errors import PipelineError
from pipeline.domain.issues import check_issue_doc
from pipeline.domain.yamldoc import parse
from pipeline.infra.instance import load_config
from pipeline.infra.store import Event, Person, Store
from pipeline.report import build_report, render_html

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

# Hand-written entries: no collect needed. A hand-written entry is about its partner's province
# (sources.yaml: Gemeente Zwolle in Overijssel, Leergeld Brabant in Noord-Brabant, GGD in Fryslân).
ISSUE = """\
id: "2026-12"
subject: Nieuws van partners
preheader: Wat partners deden
intro: Beste lezer,
sections:
  - section: partners
    items:
      - title: Doe mee aan de online sessie
        summary: Elke twee weken, voor partners.
        url: https://www.example.org/sessies
  - section: agenda
    personalise: provinces{rest}
    items:
      - title: Inloopavond in Tilburg
        summary: Schoolspullen aanvragen.
        url: https://www.example.org/tilburg
        partner: leergeld-brabant
      - title: Spreekuur in Leeuwarden
        summary: Voor ouders met geldzorgen.
        url: https://www.example.org/leeuwarden
        partner: jgz-fryslan
      - title: Publieksacademie in Zwolle
        summary: Een avond voor iedereen die met kinderen werkt.
        url: https://www.example.org/zwolle
        partner: gemeente-zwolle
"""


def write(root: Path, rest: str = "") -> Path:
    path = root / "issues" / "2026-12.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(ISSUE.format(rest=f"\n    rest: {rest}" if rest else ""), encoding="utf-8")
    return path


def checked(root: Path, text: str) -> tuple[object, list[str]]:
    config = load_config(root)
    issue, problems = check_issue_doc(parse(text, "issues/2026-12.yaml"), config, "2026-12")
    return issue, [f"{p.line}: {p.message}" for p in problems]


# -- the format -------------------------------------------------------------------------------------
def test_personalise_and_rest_are_checked_with_their_line(demo_root: Path) -> None:
    good = ISSUE.format(rest="\n    rest: omit")
    issue, problems = checked(demo_root, good)
    assert problems == []
    agenda = issue.sections[1]  # type: ignore[attr-defined]
    assert (agenda.personalise, agenda.rest) == ("provinces", "omit")
    assert issue.sections[0].personalise is None and issue.sections[0].rest == "fold"  # type: ignore[attr-defined]

    _issue, problems = checked(demo_root, good.replace("personalise: provinces", "personalise: regio"))
    assert problems == [
        "12: 'personalise: regio' is not one of provinces, themes; e.g. 'personalise: provinces'"
    ]
    _issue, problems = checked(demo_root, good.replace("rest: omit", "rest: hide"))
    assert problems == [
        "13: 'rest: hide' is not one of fold, omit; 'fold' puts the rest under \"Meer uit het land\""
    ]
    without = good.replace("    personalise: provinces\n", "")
    _issue, problems = checked(demo_root, without)
    assert problems == [
        "12: 'rest' goes with 'personalise: provinces' (or themes); add that, or remove 'rest'"
    ]
    featured = good.replace("section: partners", "section: uitgelicht\n    personalise: themes")
    _issue, problems = checked(demo_root, featured)
    assert problems == [
        "7: section 'uitgelicht' is featured (one story for everyone) and cannot be personalised;"
        " remove 'personalise'"
    ]


def test_the_checks_speak_dutch(demo_root: Path) -> None:
    write(demo_root, "hide")
    done = newsletter(demo_root, "check", "2026-12", env={"NEWSLETTER_LANG": "nl"})
    assert done.returncode == 1
    assert "issues/2026-12.yaml:13: 'rest: hide' is niet een van fold, omit;" in done.stdout + done.stderr


# -- the arrangement ----------------------------------------------------------------------------------
def test_hers_first_the_rest_folded_or_left_out_and_no_choice_is_the_issue_as_it_is(demo_root: Path) -> None:
    config = load_config(demo_root)
    issue, _problems = checked(demo_root, ISSUE.format(rest=""))
    tags = issue_tags(config, issue, {})  # type: ignore[arg-type]
    overijssel = Choice(frozenset({"overijssel"}))
    part = arrange(issue, tags, overijssel)["agenda"]  # type: ignore[arg-type]
    assert (part.own, part.more, part.personalised) == ((2,), (0, 1), True)
    assert arrange(issue, tags, Choice())["agenda"].own == (0, 1, 2)  # type: ignore[arg-type]
    # Nothing of hers in the section (Utrecht): the section as it is, and the issue as it is.
    utrecht = Choice(frozenset({"utrecht"}), frozenset({"onderwijs"}))
    assert arrange(issue, tags, utrecht)["agenda"].own == (0, 1, 2)  # type: ignore[arg-type]
    assert effective(issue, tags, utrecht).key == ""  # type: ignore[arg-type]
    # Only what changes something names the edition: themes, with no themed section, do not.
    both = from_columns("overijssel,utrecht", "onderwijs")
    assert effective(issue, tags, both).key == "provinces=overijssel"  # type: ignore[arg-type]
    omit, _problems = checked(demo_root, ISSUE.format(rest="\n    rest: omit"))
    part = arrange(omit, issue_tags(config, omit, {}), overijssel)["agenda"]  # type: ignore[arg-type]
    assert (part.own, part.more) == ((2,), ())


def test_view_as_takes_ids_or_titles_and_says_what_it_does_not_know(demo_root: Path) -> None:
    tax = load_config(demo_root).taxonomy
    choice = parse_view_as("Overijssel, thema onderwijs", tax)
    assert choice == Choice(frozenset({"overijssel"}), frozenset({"onderwijs"}))
    assert choice.label(tax) == "Overijssel, theme Onderwijs"
    assert parse_view_as("fryslan", tax).provinces == {"friesland"}
    with pytest.raises(PipelineError) as e:
        parse_view_as("overijssel,mars", tax)
    assert e.value.message == "'mars' is not a province or theme of the taxonomy"


# -- the approval ---------------------------------------------------------------------------------------
def test_the_approval_goes_stale_when_any_edition_would_change(demo_root: Path) -> None:
    config = load_config(demo_root)
    issue, _problems = checked(demo_root, ISSUE.format(rest=""))
    before = content_fingerprint(config, issue, {}, {})  # type: ignore[arg-type]
    omit, _problems = checked(demo_root, ISSUE.format(rest="\n    rest: omit"))
    assert content_fingerprint(config, omit, {}, {}) != before  # type: ignore[arg-type]
    plain, _problems = checked(demo_root, ISSUE.format(rest="").replace("    personalise: provinces\n", ""))
    assert content_fingerprint(config, plain, {}, {}) != before  # type: ignore[arg-type]
    # Gemeente Zwolle moves to Drenthe in sources.yaml: the Overijssel edition changes, and so must this.
    zwolle = dataclasses.replace(config.partners["gemeente-zwolle"], province="drenthe")
    moved = dataclasses.replace(config, partners={**config.partners, "gemeente-zwolle": zwolle})
    assert content_fingerprint(moved, issue, {}, {}) != before  # type: ignore[arg-type]
    assert content_fingerprint(config, issue, {}, {}) == before  # type: ignore[arg-type]


# -- the send: one edition a request, each reader once, also after a kill ---------------------------------
READERS = 12
OVERIJSSEL = {f"lid{i:02d}@example.org" for i in range(READERS) if i % 2}  # six readers chose Overijssel

# The sender as a separate process, killed (os._exit: no cleanup, like SIGKILL) at its Nth request:
# "before" it reaches the outbox, or "after" its messages are written and before the ledger hears.
DRIVER = """
import os, sys
from pathlib import Path
from pipeline.deliver import open_transport, send_list, send_lock
from pipeline.infra.instance import load_config, load_issue
from pipeline.infra.store import Store
from pipeline.render import prepare

config = load_config(Path(sys.argv[1]))
die_at, moment = int(sys.argv[2]), sys.argv[3]
transport = open_transport(config, {})
real, count = transport.send, [0]

def send(rendered, recipients, settings, **kw):
    count[0] += 1
    if count[0] == die_at and moment == "before":
        os._exit(137)
    result = real(rendered, recipients, settings, **kw)
    if count[0] == die_at:
        os._exit(137)
    return result

transport.send = send
issue = load_issue(config, "2026-12")
with send_lock(config, issue.id), Store(config.settings.database) as store:
    send_list(config, store, issue, transport, prepared=prepare(config, store, issue), batch_size=4,
              concurrency=1)
"""


def readers(root: Path) -> None:
    config = load_config(root)
    people = [Person(f"lid{i:02d}@example.org", f"Lid {i}") for i in range(READERS)]
    with Store(config.settings.database) as store:
        store.import_subscribers(people, "test", "test.csv", NOW)
        with store.transaction():  # what the preferences page writes
            for address in OVERIJSSEL:
                store.db.execute(
                    "UPDATE subscribers SET provinces = 'overijssel', themes = 'onderwijs' WHERE email = ?",
                    (address,),
                )


def received(root: Path) -> dict[str, list[str]]:
    """address -> the agenda of each message it got (titles in order), from the outbox (not what a
    cancel moved aside)."""
    got: dict[str, list[str]] = {}
    for path in sorted((root / "outbox" / "2026-12").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        agenda = text[text.index("AGENDA") :]
        order = sorted(("Tilburg", "Leeuwarden", "Zwolle"), key=agenda.index)
        folded = "Meer uit het land:" in agenda
        got.setdefault(str(msg["To"]).split("<")[-1].rstrip(">"), []).append(
            " ".join(order) + (" +fold" if folded else "")
        )
    return got


@pytest.mark.parametrize(
    ("engine", "moment", "die_at"),
    [
        ("sqlite", "after", 4),
        ("sqlite", "before", 3),
        pytest.param("postgresql", "after", 4, marks=pytest.mark.slow),
    ],
    indirect=["engine"],
)
def test_a_send_killed_between_editions_serves_each_reader_once_with_her_edition(
    demo_root: Path, engine: str, moment: str, die_at: int
) -> None:
    write(demo_root)
    readers(demo_root)
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie").returncode == 0
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}
    full["PYTHONPATH"] = str(REPO)
    killed = subprocess.run(
        [sys.executable, "-c", DRIVER, str(demo_root), str(die_at), moment],
        env=full,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == 137, killed.stderr
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        # Six readers of the issue as it is (requests of 4 and 2), then six of the Overijssel edition
        # (4 and 2): killed in the Overijssel edition's first or last request.
        counts = store.delivery_counts("2026-12")
        in_flight = 4 if moment == "before" else 2
        assert (counts["accepted"], counts["in_flight"]) == (
            READERS - in_flight if moment == "after" else 6,
            in_flight,
        )

    resumed = newsletter(demo_root, "send", "2026-12")
    assert resumed.returncode == 0, resumed.stderr
    got = received(demo_root)
    assert sorted(got) == sorted(f"lid{i:02d}@example.org" for i in range(READERS))
    for address, agendas in got.items():
        wanted = "Zwolle Tilburg Leeuwarden +fold" if address in OVERIJSSEL else "Tilburg Leeuwarden Zwolle"
        assert agendas == [wanted], address  # once, and her own edition
    with Store(config.settings.database) as store:
        assert store.edition_counts("2026-12") == {"": 6, "provinces=overijssel": 6}
        assert list(store.sent_editions("2026-12")) == ["provinces=overijssel"]
        assert store.delivery_counts("2026-12")["accepted"] == READERS
        requests = Counter(r.recipients for r in store.delivery_batches("2026-12") if r.state == "accepted")
    assert sum(n * c for n, c in requests.items()) == READERS


# -- done when: a reader who chose Overijssel and onderwijs gets the Overijssel agenda first ----------
def edit_drafted(root: Path) -> None:
    """What the editors do after 'draft': a subject, and two sections personalised."""
    path = root / "issues" / "2026-12.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("subject: ", "subject: Fietsen, laptops en een avond in Zwolle", 1)
    # The Zwolle event (Overijssel) last in the agenda, so that putting it first is the edition's doing.
    start = text.index("  - section: agenda ")
    end = text.index("    runners_up:", start)
    entries = re.findall(r"((?:      #[^\n]*\n)+      - item: \w+\n)", text[start:end])
    assert len(entries) == 3 and "Publieksacademie Kinderarmoede in Zwolle" in entries[0]
    block = text[start:end]
    text = text[:start] + block.replace("".join(entries), "".join(entries[1:] + entries[:1])) + text[end:]
    for section, by in (("agenda", "provinces"), ("kennis", "themes")):
        head = next(line for line in text.splitlines() if line.startswith(f"  - section: {section} "))
        text = text.replace(head + "\n", f"{head}\n    personalise: {by}\n", 1)
    path.write_text(text, encoding="utf-8")


def choose_on_her_own_page(root: Path, address: str, boxes: list[str]) -> None:
    """As a reader does it: she asks for her link by mail (a real `newsletter serve`), opens it from the
    mail and ticks ``boxes`` on her preferences page."""
    with running_serve(root) as service, httpx.Client(base_url=service.base, timeout=30) as http:
        asked = http.post("/voorkeuren/nieuwe-link", data={"email": address})
        assert asked.status_code == 200, asked.text
        folder = root / "outbox" / "nieuwe-link"
        deadline = time.monotonic() + 20
        while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        [mail] = [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in folder.glob("*.eml")
        ]
        assert mail["To"] == address
        found = re.search(r"/voorkeuren\?t=([\w-]+)", mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        assert found, mail
        page = http.get("/voorkeuren", params={"t": found.group(1)})
        assert page.status_code == 200 and "Je voorkeuren" in page.text
        saved = http.post("/voorkeuren", data={"t": found.group(1), **{box: "1" for box in boxes}})
        assert saved.status_code == 303, saved.text


def test_the_demo_reader_who_chose_overijssel_and_onderwijs_gets_the_overijssel_agenda_first(
    demo_root: Path,
) -> None:
    for step in (("collect",), ("draft", "2026-12", "--since", "2026-11-01")):
        done = newsletter(demo_root, *step)
        assert done.returncode == 0, done.stderr
    edit_drafted(demo_root)
    imported = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "subscribers.csv"), "--basis", "oude lijst"
    )
    assert imported.returncode == 0, imported.stderr
    config = load_config(demo_root)
    choose_on_her_own_page(demo_root, "anna.devries@example.org", ["provincie-overijssel", "thema-onderwijs"])
    preview = newsletter(demo_root, "check", "2026-12", "--as", "Overijssel, thema onderwijs")
    assert preview.returncode == 0, preview.stderr
    assert (
        "The edition for Overijssel, theme Onderwijs: build/2026-12/als-overijssel-onderwijs/email.html"
        in (preview.stdout)
    )
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie").returncode == 0
    sent = newsletter(demo_root, "send", "2026-12")
    assert sent.returncode == 0, sent.stderr

    mails = {}
    for path in (demo_root / "outbox" / "2026-12").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails[str(msg["To"]).split("<")[-1].rstrip(">")] = msg
    assert len(mails) == 5  # the demo list: five valid, distinct addresses
    anna = mails["anna.devries@example.org"]
    for part in ("plain", "html"):
        body = anna.get_body((part,)).get_content()  # type: ignore[union-attr]
        agenda = body[body.index("Agenda" if part == "html" else "AGENDA") :]
        # Her province's event first; the three others folded below it.
        assert agenda.index("Publieksacademie Kinderarmoede in Zwolle") < agenda.index("Meer uit het land")
        assert agenda.index("Meer uit het land") < agenda.index("Training voor vrijwilligers")
        kennis = body[body.index("Wat we weten" if part == "html" else "WAT WE WETEN") :]
        assert kennis.index("Geldstress in gezinnen") < kennis.index("Werkende ouders en armoede")
    bram = mails["bram.jansen@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Meer uit het land" not in bram  # no choice: the issue as it is
    agenda = bram[bram.index("AGENDA") :]
    assert agenda.index("Inloopavond") < agenda.index("Publieksacademie Kinderarmoede in Zwolle")

    with Store(config.settings.database) as store:
        assert store.edition_counts("2026-12") == {"": 4, "provinces=overijssel;themes=onderwijs": 1}
        assert store.sent_editions("2026-12")["provinces=overijssel;themes=onderwijs"][0] == (
            "Overijssel, theme Onderwijs"  # kept as the send's language (the command's) names it
        )
    # The report's readers section: each edition, its readers and their clicks (from SendGrid's events).
    with Store(config.settings.database) as store:
        started = store.sent_issue("2026-12").started_at  # type: ignore[union-attr]
        link = "https://www.example.org/agenda/publieksacademie-zwolle?utm_source=nieuwsbrief"
        clicks = [
            ("c1", "anna.devries@example.org", started + dt.timedelta(hours=1)),
            ("c2", "anna.devries@example.org", started + dt.timedelta(hours=2)),
            ("c3", "daan.bakker@example.org", started + dt.timedelta(hours=3)),
            ("c0", "anna.devries@example.org", started - dt.timedelta(hours=1)),  # her test copy: not counted
        ]
        for event_id, address, when in clicks:
            assert store.store_event(Event(event_id, "click", address, when, "2026-12", url=link), when)
        # The report counts an issue in the period it goes out: SendGrid's send time, which the hold puts
        # half an hour after the send started (the next day, when the test runs just before midnight).
        goes_out = store.sent_issue("2026-12").sent_at  # type: ignore[union-attr]
        day = goes_out.astimezone(config.settings.timezone).date()
        report = build_report(config, store, start=day, end=day)
    assert report.clicks is not None
    (issue,) = report.clicks.issues
    assert [(e.label, e.readers, e.clickers, e.clicks) for e in issue.editions] == [
        ("iedereen zonder keuze", 4, 1, 1),
        ("Overijssel, theme Onderwijs", 1, 1, 2),
    ]
    page = render_html(config, report)
    assert "edities (lezers die een provincie of thema kozen kregen hun berichten eerst)" in page


def test_check_warns_of_a_personalised_section_that_no_choice_changes(demo_root: Path) -> None:
    path = write(demo_root)
    # By theme: the hand-written entries have no themes, so no edition would differ.
    path.write_text(path.read_text(encoding="utf-8").replace("personalise: provinces", "personalise: themes"))
    done = newsletter(demo_root, "check", "2026-12")
    assert (
        "issues/2026-12.yaml:11: warning: section 'agenda' is personalised by themes, but none of its entries"
        " names any, so every reader gets it as it is; remove 'personalise', or choose entries about themes"
    ) in done.stderr
    write(demo_root)  # by province: each entry's partner has one
    assert "is personalised by" not in newsletter(demo_root, "check", "2026-12").stderr
