"""'newsletter check' and the B1 advice in Dutch, as an editor or a partner reads them (NEWSLETTER_LANG=nl).

Every expected line is written by hand. The English messages are tested where each check is
(test_curate.py, test_bulk.py, test_plain.py); these tests read the same checks in Dutch.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, make_item, newsletter, seed

from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

DUTCH = {"NEWSLETTER_LANG": "nl"}


def problem_lines(stderr: str) -> list[str]:
    """The PATH:LINE: lines of the output. 'warning: ' before a message is the CLI's own word
    (pipeline/domain/errors.py, translated in another branch): read as its Dutch, 'waarschuwing: '."""
    lines = [line for line in stderr.splitlines() if line.startswith(("issues/", "flawed/"))]
    return [line.replace(": warning: ", ": waarschuwing: ", 1) for line in lines]


# -- validate: the B1 advice a partner gets ------------------------------------------------------------------
BELEIDSTAAL = [
    "flawed/beleidstaal.yaml:4: waarschuwing: B1: 'implementatie' is stadhuistaal; schrijf 'invoering'",
    "flawed/beleidstaal.yaml:4: waarschuwing: B1: lang woord 'armoedebestrijdingsbeleid' (8 lettergrepen) in de titel; kies een korter, gewoon woord, of leg het uit",
    'flawed/beleidstaal.yaml:6: waarschuwing: B1: zin van 24 woorden in de samenvatting; maak er kortere zinnen van (hoogstens 15 woorden): "Teneinde de bestaanszekerheid van huishoudens met ..."',
    'flawed/beleidstaal.yaml:6: waarschuwing: B1: lijdende vorm in de samenvatting ("wordt ... geïmplementeerd"); schrijf wie het doet (bedrijvende vorm)',
    "flawed/beleidstaal.yaml:6: waarschuwing: B1: 'teneinde' is stadhuistaal; schrijf 'om'",
    "flawed/beleidstaal.yaml:6: waarschuwing: B1: de samenvatting scoort 3 op leesbaarheid (Flesch-Douma); eenvoudig Nederlands scoort 60 of meer. Tip: kortere zinnen en kortere woorden maken de score hoger",
    "flawed/beleidstaal.yaml:6: waarschuwing: B1: 'thans' is stadhuistaal; schrijf 'nu'",
    "flawed/beleidstaal.yaml:7: waarschuwing: B1: 'middels' is stadhuistaal; schrijf 'met' of 'door'",
    "flawed/beleidstaal.yaml:7: waarschuwing: B1: 'in samenspraak met' is stadhuistaal; schrijf 'samen met'",
    "flawed/beleidstaal.yaml:8: waarschuwing: B1: lang woord 'vroegsignaleringsinstrumentarium' (11 lettergrepen) in de samenvatting; kies een korter, gewoon woord, of leg het uit",
    "flawed/beleidstaal.yaml:8: waarschuwing: B1: 'geïmplementeerd' is stadhuistaal; schrijf 'invoeren'",
    'flawed/beleidstaal.yaml:8: waarschuwing: B1: lijdende vorm in de samenvatting ("worden ... benaderd"); schrijf wie het doet (bedrijvende vorm)',
    "flawed/beleidstaal.yaml:8: waarschuwing: B1: lang woord 'betalingsachterstanden' (7 lettergrepen) in de samenvatting; kies een korter, gewoon woord, of leg het uit",
    "flawed/beleidstaal.yaml:8: waarschuwing: B1: 'in het kader van' is stadhuistaal; schrijf 'bij' of 'voor'",
]  # fmt: skip


def test_validate_gives_a_partner_the_b1_advice_in_dutch(demo_root: Path) -> None:
    result = newsletter(demo_root, "validate", str(demo_root / "flawed" / "beleidstaal.yaml"), env=DUTCH)
    assert result.returncode == 0, result.stderr  # advice never fails validate
    assert problem_lines(result.stderr) == BELEIDSTAAL
    # The same in English, as the tests read it by default: only the words differ.
    english = newsletter(demo_root, "validate", str(demo_root / "flawed" / "beleidstaal.yaml"))
    assert english.stderr.splitlines()[0] == (
        "flawed/beleidstaal.yaml:4: warning: B1: 'implementatie' is stadhuistaal; write 'invoering'"
    )


# -- check: the editors' mistakes ------------------------------------------------------------------------------
class Gone(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(404)
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gone() -> Iterator[str]:
    """A web server on loopback where every page is gone (404)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


FLAWED_ISSUE = """\
id: "2026-12"
intro: |
  Teneinde je te helpen, sturen we je deze nieuwsbrief.
sections:
  - section: uitgelicht
    items:
      - item: 0000deadbeef
      - title: Doe mee
        summary: Het is reeds mogelijk om mee te doen.
        url: http://www.example.org/doe-mee?utm_source=nieuwsbrief
      - title: Nog een keer
        summary: Kom ook.
        url: https://www.example.org/doe-mee
        image: {url: https://www.example.org/foto.jpg}
"""


def test_check_tells_the_editors_in_dutch_what_is_wrong_and_what_to_do(demo_root: Path) -> None:
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(FLAWED_ISSUE, encoding="utf-8")
    result = newsletter(demo_root, "check", "2026-12", env=DUTCH)
    assert result.returncode == 1
    w = "waarschuwing: "
    essential = "en {0} moet er volgens sources.yaml in; zet er een uit 'runners_up' bij"
    assert problem_lines(result.stderr) == [
        "issues/2026-12.yaml:1: geen onderwerp; schrijf 'subject: ...', de regel die abonnees in hun inbox zien",
        f"issues/2026-12.yaml:1: {w}geen voorregel; schrijf 'preheader: ...', de regel die mailprogramma's na "
        "het onderwerp tonen",
        f"issues/2026-12.yaml:3: {w}B1: 'teneinde' is stadhuistaal; schrijf 'om'",
        f"issues/2026-12.yaml:4: {w}geen bericht over het thema 'Meedoen' (meedoen), {essential.format('dat')}",
        f"issues/2026-12.yaml:4: {w}geen bericht uit de sector 'Gemeenten' (gemeenten), {essential.format('die')}",
        f"issues/2026-12.yaml:4: {w}geen bericht uit de sector 'Onderwijs' (onderwijs), {essential.format('die')}",
        f"issues/2026-12.yaml:4: {w}in geen enkel bericht doen ervaringsdeskundigen mee; zet er misschien een "
        "uit 'runners_up' bij",
        f"issues/2026-12.yaml:5: {w}rubriek 'uitgelicht' heeft 3 berichten, meer dan de 1 die erin passen; "
        "zet er 2 onder 'runners_up'",
        "issues/2026-12.yaml:7: bericht '0000deadbeef' staat niet in de database; kijk de id na met "
        "'newsletter items', of haal nieuwe berichten op met 'newsletter collect'",
        f"issues/2026-12.yaml:8: {w}link http://www.example.org/doe-mee?utm_source=nieuwsbrief begint met "
        "http://; schrijf https:// als de website dat heeft (mailprogramma's en browsers waarschuwen lezers "
        "voor http)",
        f"issues/2026-12.yaml:8: {w}link http://www.example.org/doe-mee?utm_source=nieuwsbrief bevat "
        "trackingcodes (utm_source); haal ze weg, de nieuwsbrief zet er zelf codes bij",
        f"issues/2026-12.yaml:9: {w}B1: 'reeds' is stadhuistaal; schrijf 'al'",
        "issues/2026-12.yaml:11: de foto bij 'Nog een keer' heeft geen alt-tekst en geen toestemming; zet bij "
        "'image' een 'alt' (wat er op de foto staat) en 'consent: true' (iedereen die herkenbaar is, gaf "
        "toestemming), of haal de foto weg",
        f"issues/2026-12.yaml:11: {w}link https://www.example.org/doe-mee is ook de link van het bericht op "
        "regel 8; lezers krijgen dan twee keer dezelfde pagina: houd er één",
    ]


LINKS_ISSUE = """\
id: "2026-12"
subject: Nieuws van partners
preheader: Wat partners deden
sections:
  - section: partners
    items:
      - title: Weg
        summary: Deze pagina is er niet meer.
        url: {gone}/weg
      - title: Dicht
        summary: Hier luistert niemand.
        url: {closed}/dicht
"""


def test_check_links_says_in_dutch_which_link_does_not_work(demo_root: Path, gone: str) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    nobody = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()  # nothing listens there now
    (demo_root / "issues").mkdir(exist_ok=True)
    issue = LINKS_ISSUE.format(gone=gone, closed=nobody)
    (demo_root / "issues" / "2026-12.yaml").write_text(issue, encoding="utf-8")
    result = newsletter(demo_root, "check", "2026-12", "--links", env=DUTCH)
    assert result.returncode == 1
    assert [line for line in problem_lines(result.stderr) if "waarschuwing: " not in line] == [
        f"issues/2026-12.yaml:7: link {gone}/weg geeft 404 Not Found; verbeter het adres of haal de link weg",
        f"issues/2026-12.yaml:10: link {nobody}/dicht is niet bereikbaar (ConnectError); verbeter het adres "
        "of haal de link weg",
    ]


def test_check_names_an_issue_that_does_not_exist_in_dutch(demo_root: Path) -> None:
    result = newsletter(demo_root, "check", "2027-01", env=DUTCH)
    assert result.returncode == 1
    # 'Error:' and 'Fix:' are the CLI's words (translated in another branch): the message and its fix.
    assert re.sub(r"^\w+: ", "", result.stderr, flags=re.M).splitlines() == [
        "er is geen nieuwsbrief '2027-01': issues/2027-01.yaml bestaat niet",
        "maak hem met 'newsletter draft 2027-01'",
    ]


# -- check: what Gmail and Yahoo ask of bulk senders ---------------------------------------------------------
BULK_ISSUE = """\
id: "2026-12"
subject: Nieuws van partners over fietsen, laptops, leerplicht en een avond in Zwolle
intro: Beste lezer,
sections:
  - section: partners
    items:
      - title: Doe mee aan de online sessie
        summary: Elke twee weken, voor partners.
        url: https://www.example.org/sessies
"""


def test_check_says_in_dutch_what_gmail_and_yahoo_ask(demo_root: Path) -> None:
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(BULK_ISSUE, encoding="utf-8")
    templates = demo_root / "templates"
    templates.mkdir()
    shutil.copy(REPO / "pipeline" / "templates" / "email.txt", templates / "email.txt")
    text = (templates / "email.txt").read_text(encoding="utf-8")
    assert "Afmelden:\n{{ v.unsubscribe_url }}\n" in text and "{{ v.postal_address }}" in text
    text = text.replace("Afmelden:\n{{ v.unsubscribe_url }}\n", "").replace("{{ v.postal_address }}", "")
    (templates / "email.txt").write_text(text, encoding="utf-8")
    result = newsletter(demo_root, "check", "2026-12", env=DUTCH)
    assert result.returncode == 1
    assert [line for line in problem_lines(result.stderr) if ":4: " not in line] == [
        "issues/2026-12.yaml: de tekstversie heeft geen afmeldlink, en wie de tekstversie leest, heeft er ook "
        "een nodig: laat {{ v.unsubscribe_url }} staan in templates/email.txt",
        "issues/2026-12.yaml: het postadres (Voorbeeldstraat 1, 1234 AB Utrecht) staat niet in de "
        "tekstversie, en de wet vraagt dat van een nieuwsbrief: laat {{ v.postal_address }} staan in "
        "templates/email.txt",
        "issues/2026-12.yaml:1: waarschuwing: geen voorregel; schrijf 'preheader: ...', de regel die "
        "mailprogramma's na het onderwerp tonen",
        "issues/2026-12.yaml:2: waarschuwing: het onderwerp is 76 tekens lang; maak het korter, want "
        "mailprogramma's knippen het af bij ongeveer 60",
    ]  # line 4 ('sections'): the coverage warnings of the test above


# -- check: a partner's text that goes out unchanged ------------------------------------------------------------
PARTNER_ISSUE = """\
id: "2026-12"
subject: Nieuws van partners
preheader: Wat partners deden
sections:
  - section: partners
    items:
      - item: beleid
"""


def test_check_asks_the_editors_in_dutch_to_rewrite_a_partner_s_text(demo_root: Path) -> None:
    config = load_config(demo_root)
    wordy = "Teneinde de bestaanszekerheid te vergroten wordt thans middels een integrale aanpak gewerkt."
    published = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    with Store(config.settings.state) as store:
        title = "Implementatie van de aanpak"
        seed(
            store,
            [make_item("beleid", published, partner="woningcorporatie-oost", title=title, summary=wordy)],
        )
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(PARTNER_ISSUE, encoding="utf-8")
    result = newsletter(demo_root, "check", "2026-12", env=DUTCH)
    assert result.returncode == 0, result.stderr  # advice: it never holds the issue back
    assert [line for line in problem_lines(result.stderr) if "B1: " in line] == [
        "issues/2026-12.yaml:7: waarschuwing: B1: de samenvatting van de partner bij 'Implementatie van de "
        "aanpak' (Woningcorporatie Oost) is geen eenvoudig Nederlands: lijdende vorm, 'teneinde' (schrijf "
        "'om'), 'thans' (schrijf 'nu'), 'middels' (schrijf 'met' of 'door'); schrijf je eigen 'summary:' "
        "onder dit bericht",
        "issues/2026-12.yaml:7: waarschuwing: B1: de titel van de partner, 'Implementatie van de aanpak' "
        "(Woningcorporatie Oost), is geen eenvoudig Nederlands: 'implementatie' (schrijf 'invoering'); "
        "schrijf je eigen 'title:' onder dit bericht",
    ]  # at the entry's line, sorted by message
