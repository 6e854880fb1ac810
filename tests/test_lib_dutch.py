"""The stages' own words in Dutch: what collect, send, draft and the delivery report say, read as a
Dutch user (NEWSLETTER_LANG=nl) or a Dutch instance's editors read them. Every expected line is
written here by hand, never taken from the catalog."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from conftest import newsletter, write_issue
from feedserver import FeedServer
from test_collect_safety import rss, with_sources

NL = {"NEWSLETTER_LANG": "nl"}
EN = {"NEWSLETTER_LANG": "en"}


def failure_reasons(stderr: str, url: str) -> list[str]:
    """What follows ``(URL): `` on a line of stderr (the CLI's own prefix is translated elsewhere)."""
    return [line.split(f"({url}): ", 1)[1] for line in stderr.splitlines() if f"({url}): " in line]


def english_instance(root: Path) -> Path:
    path = root / "sources.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\n  language: nl\n" in text
    path.write_text(text.replace("\n  language: nl\n", "\n  language: en\n"), encoding="utf-8")
    return root


# -- collect ----------------------------------------------------------------------------------------
def test_a_feed_that_answers_404_fails_in_dutch(demo_root: Path) -> None:
    with FeedServer() as server:
        url = server.route("/weg.rss", "niet hier", status=404)
        root = with_sources(demo_root, {"verdwenen": url}, allow_private_addresses=True)
        result = newsletter(root, "collect", env=NL)
    assert result.returncode == 3, result.stderr
    assert failure_reasons(result.stderr, url) == [
        "HTTP 404 Not Found: geen feed op dit adres; controleer het adres in sources.yaml"
    ]
    assert re.search(
        r"\d+ bronnen: \d+ opgehaald, \d+ ongewijzigd, 1 mislukt; \d+ nieuwe berichten, 0 bijgewerkt \(",
        result.stdout,
    ), result.stdout


def test_an_internal_address_is_refused_in_dutch(demo_root: Path) -> None:
    with FeedServer() as server:
        url = server.route("/feed.rss", rss("Intern nieuws", "https://intra.example.nl/geheim"))
        root = with_sources(demo_root, {"intranet": url})
        result = newsletter(root, "collect", env=NL)
        assert server.hits("/feed.rss") == 0
    assert result.returncode == 3, result.stderr
    assert failure_reasons(result.stderr, url) == [
        "127.0.0.1 is een loopback-adres: interne adressen worden niet opgehaald. Is het een feed op "
        "een intranet? Zet dan newsletter.collect.allow_private_addresses: true in sources.yaml"
    ]


# -- send --------------------------------------------------------------------------------------------
def test_a_dry_run_of_an_issue_that_is_not_approved_says_why_in_dutch(demo_root: Path) -> None:
    write_issue(demo_root, "2027-01")
    result = newsletter(demo_root, "send", "2027-01", "--dry-run", env=NL)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "nieuwsbrief 2027-01 is niet goedgekeurd; alleen een goedgekeurde, onveranderde nieuwsbrief "
        "gaat naar alle abonnees" in result.stdout.splitlines()[1]
    )
    assert result.stdout.splitlines()[2].endswith(
        "controleer de nieuwsbrief en geef dan 'newsletter approve 2027-01 --by NAAM' (een testmail met --to ADRES)"
    )


def sent_report(root: Path, env: dict[str, str]) -> email.message.EmailMessage:
    """Approve a hand-written issue and send it to the outbox; the editors' delivery report."""
    write_issue(root, "2027-01")
    assert newsletter(root, "approve", "2027-01", "--by", "Redactie", env=env).returncode == 0
    sent = newsletter(root, "send", "2027-01", env=env)
    assert sent.returncode == 0, sent.stderr
    (note,) = (root / "outbox" / "2027-01" / "report").glob("*.eml")
    msg = email.message_from_bytes(note.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def text_of(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())  # type: ignore[attr-defined]


def test_the_delivery_report_is_in_the_instances_dutch_whatever_the_terminal_reads(demo_root: Path) -> None:
    msg = sent_report(demo_root, EN)  # the person at the terminal reads English; the editors read Dutch
    assert msg["Subject"] == "Verzendrapport 2027-01: 5 verstuurd"
    text = text_of(msg)
    assert text.startswith(
        "Verzendrapport van nummer 2027-01 Verstuurd via outbox/. verstuurd: 5 overgeslagen: 0 mislukt: 0 "
        "onbekend: 0 nog niet verstuurd: 0 Het nummer gaat uit op "
    )
    assert re.search(
        r"uit op \w+dag \d+ \w+ \d{4}, \d+\.\d\d uur\. Tot \d+\.\d\d uur haal je het terug met: "
        r"newsletter cancel 2027-01",
        text,
    ), text
    html = msg.get_body(("html",))
    assert html is not None and '<html lang="nl">' in html.get_content()  # type: ignore[attr-defined]


def test_the_delivery_report_of_an_english_instance_is_english(demo_root: Path) -> None:
    msg = sent_report(english_instance(demo_root), NL)  # a Dutch terminal does not change the mail
    assert msg["Subject"] == "Delivery report 2027-01: 5 sent"
    text = text_of(msg)
    assert text.startswith(
        "Delivery report of issue 2027-01 Sent through outbox/. sent: 5 skipped: 0 failed: 0 unknown: 0 "
        "not sent yet: 0 The issue goes out on "
    )
    assert re.search(
        r"out on \w+day \d+ [A-Z][a-z]+ \d{4}, \d\d:\d\d\. Until \d\d:\d\d you can recall it with: "
        r"newsletter cancel 2027-01",
        text,
    ), text
    html = msg.get_body(("html",))
    assert html is not None and '<html lang="en">' in html.get_content()  # type: ignore[attr-defined]


# -- draft -------------------------------------------------------------------------------------------
HEADER_NL = [
    "# Nieuwsbrief Samen tegen Kinderarmoede (demo), nummer 2026-12",
    "# Gemaakt met 'newsletter draft' uit {n} kandidaten, opgehaald sinds 1 november 2026.",
    "#",
    "# Zo bewerk je het: dit bestand is van jou. Het programma verandert nooit wat jij schrijft.",
    "# - Schrijf hieronder het onderwerp (hoogstens 60 tekens), de preheader en de intro (Markdown).",
]
HEADER_EN = [
    "# Issue 2026-12 of Nieuwsbrief Samen tegen Kinderarmoede (demo)",
    "# Drafted by 'newsletter draft' from {n} candidates collected since 1 November 2026.",
    "#",
    "# How to edit: this file is yours; the program never rewrites what you write.",
    "# - Write the subject (at most 60 characters), the preheader and the intro (Markdown) below.",
]


def drafted(root: Path, env: dict[str, str]) -> list[str]:
    assert newsletter(root, "collect", env=env).returncode == 0
    made = newsletter(root, "draft", "2026-12", "--since", "2026-11-01", env=env)
    assert made.returncode == 0, made.stderr
    return (root / "issues" / "2026-12.yaml").read_text(encoding="utf-8").splitlines()


def header(lines: list[str], expected: list[str]) -> None:
    n = re.search(r" (\d+) ", lines[1])
    assert n is not None, lines[1]
    assert lines[:5] == [line.format(n=n.group(1)) for line in expected]


def test_the_drafted_issue_explains_itself_in_the_instances_dutch_and_refresh_keeps_it(
    demo_root: Path,
) -> None:
    lines = drafted(demo_root, EN)  # an English terminal: the file is for the Dutch editors
    header(lines, HEADER_NL)
    assert "subject:          # verplicht: het onderwerp dat abonnees zien, hoogstens 60 tekens" in lines
    assert any(re.search(r"^      # .* · \d+(\.\d+)? punten$", line) for line in lines)
    refreshed = newsletter(demo_root, "draft", "2026-12", "--refresh", env=NL)
    assert refreshed.returncode == 0, refreshed.stderr
    again = (demo_root / "issues" / "2026-12.yaml").read_text(encoding="utf-8").splitlines()
    assert again[: again.index("sections:")] == lines[: lines.index("sections:")]


def test_the_drafted_issue_of_an_english_instance_is_english(demo_root: Path) -> None:
    lines = drafted(english_instance(demo_root), NL)
    header(lines, HEADER_EN)
    assert "subject:          # required: the subject line subscribers see, at most 60 characters" in lines
    assert any(re.search(r"^      # .* · \d+(\.\d+)? points$", line) for line in lines)
    assert newsletter(demo_root, "draft", "2026-12", "--refresh", env=NL).returncode == 0
