"""The partner portal (/partners/ in `newsletter serve`) over real HTTP: one `newsletter serve` on
loopback for the module, on a copy of the demo instance, with the sign-in mails in its outbox.
Partners as they would use it, and attackers: another partner's ids, reused and expired links,
forged CSRF tokens, huge bodies, fake images. The expected files and messages are written out here."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
import shutil
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import httpx
import pytest
from conftest import DEMO, newsletter
from servers import Service, running_serve

from pipeline.infra.instance import load_config
from pipeline.infra.store import Store
from pipeline.portal.signin import hashed

NOW = "2026-12-07 10:00"  # the server's clock starts here (Europe/Amsterdam) and runs on
ZWOLLE = "communicatie@zwolle.example.org"  # contacts in the demo's sources.yaml
ZWOLLE_MONITORING = "monitoring@zwolle.example.nl"  # a monitoring_contact signs in too
LAPTOP = "verhalen@laptopfabriek.example.org"
LAPTOP_PROGRESS = "voortgang@laptopfabriek.example.org"
ZWOLLE_OTHERS = ("isolatie", "csrf", "limieten", "foto", "botsing", "intrekken", "voortgang")
CLIENTS = count(1)


def add_contacts(root: Path, zwolle: tuple[str, ...], laptop: tuple[str, ...]) -> None:
    """Contacts for Gemeente Zwolle and De Laptopfabriek in the instance's sources.yaml (the demo's
    own are Samen tegen Kinderarmoede's and Woningcorporatie Oost's)."""
    sources = root / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    for partner, addresses in (("gemeente-zwolle", zwolle), ("laptopfabriek", laptop)):
        head = f"  - id: {partner}\n"
        assert head in text
        text = text.replace(head, f"{head}    contacts: [{', '.join(addresses)}]\n", 1)
    sources.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with contacts for Gemeente Zwolle (one per test: an address gets at most three links
    an hour) and De Laptopfabriek."""
    target = tmp_path_factory.mktemp("portal") / "demo"
    shutil.copytree(DEMO, target)
    add_contacts(
        target, (ZWOLLE, *(f"{name}@zwolle.example.org" for name in ZWOLLE_OTHERS)), (LAPTOP, LAPTOP_PROGRESS)
    )
    return target


@pytest.fixture(scope="module")
def service(root: Path) -> Iterator[Service]:
    with running_serve(root, "--now", NOW) as s:
        yield s


def outbox(root: Path) -> list[Path]:
    folder = root / "outbox" / "partners"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def mails_to(root: Path, address: str) -> list[str]:
    """The sign-in links mailed to ``address`` (the text part's link), oldest first."""
    links = []
    for path in outbox(root):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found = re.search(
                r"(/partners/inloggen\?token=[\w-]+)", message.get_body(("plain",)).get_content()
            )
            assert found, path
            links.append(found.group(1))
    return links


def wait_for_mails(root: Path, n: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(outbox(root)) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


class Partner:
    """A browser of one partner contact: its own cookies and its own forwarded client address."""

    def __init__(self, service: Service, root: Path) -> None:
        self.root = root
        self.http = httpx.Client(
            base_url=service.base, timeout=30, follow_redirects=False,
            headers={"x-forwarded-for": f"203.0.113.{next(CLIENTS)}"},
        )  # fmt: skip

    def ask(self, address: str) -> httpx.Response:
        page = self.http.get("/partners/")
        return self.http.post(
            "/partners/", data={"csrf_token": field(page.text, "csrf_token"), "email": address}
        )

    def press(self, link: str) -> httpx.Response:
        page = self.http.get(link)
        assert page.status_code == 200, page.text
        data = {"csrf_token": field(page.text, "csrf_token"), "token": field(page.text, "token")}
        return self.http.post("/partners/inloggen", data=data)

    def sign_in(self, address: str) -> Partner:
        before = set(mails_to(self.root, address))
        assert self.ask(address).status_code == 200
        deadline = time.monotonic() + 10
        while not (new := set(mails_to(self.root, address)) - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(new) == 1, f"no new sign-in mail to {address}"
        assert self.press(new.pop()).status_code == 303
        return self

    def csrf(self, path: str = "/partners/verhalen/nieuw") -> str:
        return field(self.http.get(path).text, "csrf_token")

    def save(self, fields: dict[str, object], image: tuple[str, bytes] | None = None) -> httpx.Response:
        files = {"image": image} if image else {"image": ("", b"")}
        return self.http.post("/partners/verhalen", data=fields, files=files)


STORY = {
    "id": "", "loaded": "", "title": "Gratis zwemles voor elk kind",
    "summary": "Kinderen uit gezinnen met weinig geld leren gratis zwemmen. Ouders hoeven niets aan te vragen.",
    "url": "https://www.zwolle.example.nl/nieuws/zwemles", "kind": "story", "themes": ["meedoen"],
    "published": "2026-12-01",
}  # fmt: skip

# The file a partner would write by hand for STORY: the skeleton's keys, order and comments.
EXPECTED = """\
# Eén verhaal per bestand, gemaakt in het partnerportaal (/partners/). Je mag het ook met de hand
# aanpassen. De namen voor de dubbele punt blijven Engels; wat ze betekenen staat erachter.
# Controleer het bestand met:  newsletter validate submissions/gemeente-zwolle/2026-12-01-gratis-zwemles-voor-elk-kind.yaml
partner: gemeente-zwolle           # de code van je organisatie, zoals in sources.yaml
title: Gratis zwemles voor elk kind # de kop: kort, zonder HTML
summary: |                         # twee of drie korte zinnen: wat er gebeurt, en voor wie
  Kinderen uit gezinnen met weinig geld leren gratis zwemmen. Ouders hoeven niets aan te vragen.
url: https://www.zwolle.example.nl/nieuws/zwemles # waar lezers meer lezen; begint met https://
kind: story                        # story, research, policy, event ...
themes: [meedoen]                  # een of meer thema's uit sources.yaml
published: 2026-12-01              # de datum van het verhaal: jaar-maand-dag
"""


def test_a_partner_signs_in_fixes_two_mistakes_and_collect_and_draft_take_the_story(
    service: Service, root: Path
) -> None:
    zwolle = Partner(service, root)
    known = zwolle.ask(ZWOLLE)
    unknown = Partner(service, root).ask("niemand@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text and "Kijk in je mailbox" in known.text  # nothing learnt
    wait_for_mails(root, 1)
    time.sleep(0.3)
    assert mails_to(root, "niemand@example.org") == [] and len(mails_to(root, ZWOLLE)) == 1

    page = zwolle.http.get(mails_to(root, ZWOLLE)[0])
    assert page.status_code == 200 and page.text.count("<button") == 1  # a scanner signs in nobody
    assert "newsletter_partner=" not in page.headers.get("set-cookie", "")
    done = zwolle.press(mails_to(root, ZWOLLE)[0])
    assert done.status_code == 303
    cookie = done.headers["set-cookie"]
    assert "newsletter_partner=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=28800" in cookie and "Path=/partners/" in cookie  # 8 hours

    csrf = zwolle.csrf()
    wrong = {**STORY, "csrf_token": csrf, "url": "www.zwolle.example.nl/nieuws/zwemles", "themes": []}
    answer = zwolle.save(wrong)
    assert answer.status_code == 400
    errors = dict(re.findall(r'class="error" id="([a-z]+)-error">([^<]+)', answer.text))
    assert errors == {
        "url": "&#39;www.zwolle.example.nl/nieuws/zwemles&#39; is geen volledig webadres; schrijf het"
        " helemaal uit, met https:// ervoor",
        "themes": "voeg &#39;themes&#39; toe: een inzending heeft dat veld nodig",
    }
    assert 'value="Gratis zwemles voor elk kind"' in answer.text  # what was typed stays
    assert not (root / "submissions" / "gemeente-zwolle").exists()

    saved = zwolle.save({**STORY, "csrf_token": csrf})
    assert saved.status_code == 303
    assert (
        saved.headers["location"] == "/partners/verhalen/2026-12-01-gratis-zwemles-voor-elk-kind?opgeslagen=1"
    )
    path = root / "submissions" / "gemeente-zwolle" / "2026-12-01-gratis-zwemles-voor-elk-kind.yaml"
    assert path.read_text(encoding="utf-8") == EXPECTED

    valid = newsletter(root, "validate", str(root / "submissions" / "gemeente-zwolle"))
    assert valid.returncode == 0, valid.stderr
    collected = newsletter(root, "collect")
    assert collected.returncode == 0, collected.stderr
    drafted = newsletter(root, "draft", "2026-12")
    assert drafted.returncode == 0, drafted.stderr
    assert "# Gratis zwemles voor elk kind" in (root / "issues" / "2026-12.yaml").read_text(encoding="utf-8")

    home = zwolle.http.get("/partners/")
    assert "Gratis zwemles voor elk kind" in home.text and "Voorstel voor nummer 2026-12" in home.text

    # Approved, the issue is the editors': the story can no longer be changed or withdrawn.
    from pipeline.infra.instance import write_program_fields

    issue = root / "issues" / "2026-12.yaml"
    draft = issue.read_text(encoding="utf-8")
    approval = {"by": "Anna", "at": dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC), "fingerprint": "0" * 64}
    write_program_fields(issue, str(issue), status="approved", approval=approval)
    try:
        story_id = "2026-12-01-gratis-zwemles-voor-elk-kind"
        page = zwolle.http.get(f"/partners/verhalen/{story_id}")
        assert "Dit verhaal staat in nummer 2026-12, dat de redactie al goedkeurde." in page.text
        assert "Verhaal intrekken" not in page.text
        edit = {
            **STORY,
            "csrf_token": csrf,
            "id": story_id,
            "loaded": field(page.text, "loaded"),
            "title": "Anders",
        }
        assert zwolle.save(edit).status_code == 409
        assert (
            zwolle.http.post("/partners/intrekken", data={"csrf_token": csrf, "id": story_id}).status_code
            == 409
        )
        assert path.read_text(encoding="utf-8") == EXPECTED
    finally:
        issue.write_text(draft, encoding="utf-8")  # the module's later tests run 'run' over the instance


def test_a_link_works_once_and_for_thirty_minutes_and_the_monitoring_contact_signs_in(
    service: Service, root: Path
) -> None:
    partner = Partner(service, root).sign_in(ZWOLLE_MONITORING)
    assert "Ingelogd voor <strong>Gemeente Zwolle</strong>" in partner.http.get("/partners/").text
    again = Partner(service, root).press(mails_to(root, ZWOLLE_MONITORING)[-1])
    assert again.status_code == 400 and "al gebruikt" in again.text

    config = load_config(root)
    token = "planted-expired-token-0123456789"
    made = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)  # 09:00 in Amsterdam, the server starts at 10:00
    with Store(config.settings.database) as store:
        store.add_portal_token(
            hashed(token), "gemeente-zwolle", ZWOLLE, made, made + dt.timedelta(minutes=30)
        )
    late = Partner(service, root).press(f"/partners/inloggen?token={token}")
    assert late.status_code == 400 and "verlopen" in late.text and "set-cookie" not in late.headers

    out = partner.http.post("/partners/uitloggen", data={"csrf_token": partner.csrf("/partners/")})
    assert out.status_code == 303
    assert partner.http.get("/partners/verhalen/nieuw").status_code == 303  # signed out: no form


def test_another_partner_gets_404_and_without_a_session_there_is_no_form(
    service: Service, root: Path
) -> None:
    zwolle = Partner(service, root).sign_in("isolatie@zwolle.example.org")
    csrf = zwolle.csrf()
    story = {
        **STORY,
        "csrf_token": csrf,
        "title": "Een verhaal van Zwolle",
        "url": "https://www.zwolle.example.nl/a",
    }
    location = zwolle.save(story).headers["location"]
    story_id = location.split("/")[-1].split("?")[0]
    path = root / "submissions" / "gemeente-zwolle" / f"{story_id}.yaml"
    before = path.read_bytes()

    laptop = Partner(service, root).sign_in(LAPTOP)
    assert laptop.http.get(f"/partners/verhalen/{story_id}").status_code == 404
    theirs = laptop.csrf()
    edit = {**story, "csrf_token": theirs, "id": story_id, "loaded": "x", "title": "Overgenomen"}
    assert laptop.save(edit).status_code == 404
    assert (
        laptop.http.post("/partners/intrekken", data={"csrf_token": theirs, "id": story_id}).status_code
        == 404
    )
    for trick in ("..%2F..%2Fsources", "..%2Fgemeente-zwolle%2F" + story_id, "%2e%2e", story_id + ".yaml"):
        assert laptop.http.get(f"/partners/verhalen/{trick}").status_code == 404, trick
    assert path.read_bytes() == before
    assert "Een verhaal van Zwolle" not in laptop.http.get("/partners/").text

    stranger = httpx.Client(base_url=zwolle.http.base_url, follow_redirects=False)
    page = stranger.get("/partners/verhalen/nieuw")
    assert page.status_code == 303 and page.headers["location"] == "/partners/"
    assert stranger.get(f"/partners/verhalen/{story_id}").status_code == 303
    forged = stranger.post("/partners/verhalen", data={**story, "id": story_id, "title": "Weg"})
    assert forged.status_code == 403 and path.read_bytes() == before


def test_forged_csrf_and_other_sites_are_refused(service: Service, root: Path) -> None:
    zwolle = Partner(service, root).sign_in("csrf@zwolle.example.org")
    folder = root / "submissions" / "gemeente-zwolle"
    before = sorted(p.name for p in folder.glob("*.yaml")) if folder.exists() else []
    story = {**STORY, "title": "Vervalst verhaal", "url": "https://www.zwolle.example.nl/vervalst"}
    assert zwolle.save({**story, "csrf_token": "0" * 64}).status_code == 403
    assert zwolle.save(story).status_code == 403
    other_site = zwolle.http.post(
        "/partners/verhalen",
        data={**story, "csrf_token": zwolle.csrf()},
        headers={"origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    assert sorted(p.name for p in folder.glob("*.yaml")) == before
    # The sign-in forms too: without the form cookie's value no link is mailed.
    mails = len(outbox(root))
    bare = httpx.Client(base_url=zwolle.http.base_url).post("/partners/", data={"email": ZWOLLE})
    assert bare.status_code == 403
    time.sleep(0.3)
    assert len(outbox(root)) == mails


def test_three_mails_per_address_and_twenty_requests_per_client_an_hour(service: Service, root: Path) -> None:
    address = "voortgang@leergeld-brabant.example.nl"  # leergeld-brabant's monitoring contact
    for _ in range(5):
        assert Partner(service, root).ask(address).status_code == 200
    time.sleep(0.5)
    assert len(mails_to(root, address)) == 3

    flood = Partner(service, root)
    for i in range(20):
        assert flood.ask(f"onbekend{i}@example.org").status_code == 200
    before = len(mails_to(root, LAPTOP))
    answer = flood.ask(LAPTOP)  # the 21st request of this client in the hour
    assert answer.status_code == 200 and "Kijk in je mailbox" in answer.text  # the same answer ...
    time.sleep(0.5)
    assert len(mails_to(root, LAPTOP)) == before  # ... and no mail
    assert Partner(service, root).ask(LAPTOP).status_code == 200  # another client still may
    wait_for_mails(root, len(outbox(root)) + 1, timeout=2)
    assert len(mails_to(root, LAPTOP)) == before + 1


def test_bodies_over_the_limits_are_refused(service: Service, root: Path) -> None:
    zwolle = Partner(service, root).sign_in("limieten@zwolle.example.org")
    huge = zwolle.save({**STORY, "csrf_token": zwolle.csrf()}, ("groot.jpg", b"\xff" * (12 * 1024 * 1024)))
    assert huge.status_code == 413
    long_form = zwolle.http.post("/partners/", data={"email": "a" * (100 * 1024)})
    assert long_form.status_code == 413


def gps_photo(width: int, height: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (30, 110, 200))
    exif = Image.Exif()
    exif[0x010F] = "Camera van de school"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 30.0, 15.0), 3: "E", 4: (6.0, 5.0, 40.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif().get_ifd(0x8825)  # the photo does carry where it was taken
    return data


def test_an_image_is_stored_without_its_gps_and_at_most_1200_px_wide(service: Service, root: Path) -> None:
    from PIL import Image

    zwolle = Partner(service, root).sign_in("foto@zwolle.example.org")
    csrf = zwolle.csrf()
    story = {**STORY, "csrf_token": csrf, "title": "Zwemles met foto", "url": "https://www.zwolle.example.nl/foto",
             "alt": "Kinderen in het zwembad", "consent": "yes"}  # fmt: skip
    saved = zwolle.save(story, ("zwembad.jpg", gps_photo(2400, 1600)))
    assert saved.status_code == 303, saved.text
    text = (root / "submissions" / "gemeente-zwolle" / "2026-12-01-zwemles-met-foto.yaml").read_text(
        encoding="utf-8"
    )
    found = re.search(r'image: \{url: "https://nieuwsbrief\.example\.org/archief/media/gemeente-zwolle/([0-9a-f]{20}\.jpg)", '
                      r'alt: "Kinderen in het zwembad", consent: true\}', text)  # fmt: skip
    assert found, text
    stored = root / "media" / "gemeente-zwolle" / found.group(1)
    with Image.open(stored) as image:
        assert image.size == (1200, 800)
        assert not image.getexif() and "exif" not in image.info
    assert b"Camera van de school" not in stored.read_bytes()

    fake = zwolle.save({**story, "title": "Nep"}, ("foto.jpg", b"<?php echo 'geen foto'; ?>" * 40))
    assert fake.status_code == 400
    assert 'id="image-error">Dit bestand is geen foto die we kunnen lezen' in fake.text
    no_answer = zwolle.save({**story, "title": "Zonder antwoord", "consent": ""}, ("b.png", png_bytes()))
    assert no_answer.status_code == 400 and 'id="consent-error"' in no_answer.text


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 10, 10)).save(out, "PNG")
    return out.getvalue()


def test_a_file_changed_on_disk_since_the_form_was_loaded_is_kept_beside_the_partners(
    service: Service, root: Path
) -> None:
    zwolle = Partner(service, root).sign_in("botsing@zwolle.example.org")
    story = {
        **STORY,
        "csrf_token": zwolle.csrf(),
        "title": "Botsing",
        "url": "https://www.zwolle.example.nl/botsing",
    }
    story_id = zwolle.save(story).headers["location"].split("/")[-1].split("?")[0]
    form = zwolle.http.get(f"/partners/verhalen/{story_id}").text
    path = root / "submissions" / "gemeente-zwolle" / f"{story_id}.yaml"
    by_hand = path.read_text(encoding="utf-8").replace("title: Botsing", "title: Botsing (redactie)")
    path.write_text(by_hand, encoding="utf-8")
    edit = {**story, "id": story_id, "loaded": field(form, "loaded"), "title": "Botsing (partner)"}
    answer = zwolle.save(edit)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/partners/verhalen/2026-12-01-botsing-partner?opgeslagen=2"
    assert path.read_text(encoding="utf-8") == by_hand  # the editor's change stays
    beside = root / "submissions" / "gemeente-zwolle" / "2026-12-01-botsing-partner.yaml"
    assert "title: Botsing (partner)" in beside.read_text(encoding="utf-8")


def test_a_partner_withdraws_a_story(service: Service, root: Path) -> None:
    zwolle = Partner(service, root).sign_in("intrekken@zwolle.example.org")
    story = {
        **STORY,
        "csrf_token": zwolle.csrf(),
        "title": "Intrekken",
        "url": "https://www.zwolle.example.nl/weg",
    }
    story_id = zwolle.save(story).headers["location"].split("/")[-1].split("?")[0]
    out = zwolle.http.post("/partners/intrekken", data={"csrf_token": zwolle.csrf(), "id": story_id})
    assert out.status_code == 303
    assert not (root / "submissions" / "gemeente-zwolle" / f"{story_id}.yaml").exists()
    kept = list((root / "submissions" / "gemeente-zwolle" / ".ingetrokken").glob(f"{story_id}-*.yaml"))
    assert len(kept) == 1
    assert story_id not in newsletter(root, "validate").stdout


def test_the_progress_form_writes_a_file_validate_accepts_and_the_report_counts(
    service: Service, root: Path, tmp_path: Path
) -> None:
    zwolle = Partner(service, root).sign_in("voortgang@zwolle.example.org")
    next_year = zwolle.http.get("/partners/voortgang/2027").text
    assert 'value="Kinderfietsenplan"' in next_year  # pre-filled from 2026
    assert zwolle.http.get("/partners/voortgang/2031").status_code == 404  # not a year to report on
    assert zwolle.http.get("/partners/voortgang/..%2F2026").status_code == 404

    laptop = Partner(service, root).sign_in(LAPTOP_PROGRESS)
    page = laptop.http.get("/partners/voortgang/2026")
    assert page.status_code == 200
    fields = {
        "csrf_token": field(page.text, "csrf_token"), "year": "2026", "loaded": "",
        "a0_title": "Laptops voor brugklassers", "a0_summary": "We gaven 640 opgeknapte laptops aan scholen.",
        "a0_themes": ["onderwijs"], "a0_horizon": "verzachten", "a0_children": "640", "a0_families": "",
        "a0_professionals": "", "a0_effects": "Leerlingen maken hun huiswerk thuis.",
    }  # fmt: skip
    wrong = laptop.http.post("/partners/voortgang", data={**fields, "a0_children": "veel", "a0_themes": []})
    assert wrong.status_code == 400
    assert 'id="a0_themes-error"' in wrong.text and 'id="a0_reach-error"' in wrong.text
    saved = laptop.http.post("/partners/voortgang", data=fields)
    assert saved.status_code == 303
    path = root / "monitoring" / "2026" / "laptopfabriek.yaml"
    assert "    reach: {children: 640}" in path.read_text(encoding="utf-8")
    valid = newsletter(root, "validate", str(root / "monitoring" / "2026" / "laptopfabriek.yaml"))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    report = newsletter(root, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path))
    assert report.returncode == 0, report.stderr
    partners = (tmp_path / "monitoring_partners.csv").read_text(encoding="utf-8-sig").splitlines()
    laptops = next(line for line in partners if line.startswith("laptopfabriek,"))
    assert ",ja,2026,1,640,0,0,0," in laptops  # asked, the period 2026, 1 activity, 640 children
    missing = (tmp_path / "monitoring_missing.csv").read_text(encoding="utf-8-sig")
    assert "laptopfabriek," not in missing


def test_the_progress_form_never_overwrites_half_years_or_a_file_broken_by_hand(
    service: Service, root: Path
) -> None:
    jgz = Partner(service, root).sign_in("monitoring@jgz-fryslan.example.nl")  # its monitoring contact
    page = jgz.http.get("/partners/voortgang/2026")
    fields = {
        "csrf_token": field(page.text, "csrf_token"), "year": "2026", "loaded": "",
        "a0_title": "Spreekuur", "a0_summary": "Een spreekuur over geld op elk consultatiebureau.",
        "a0_themes": ["signaleren"],
    }  # fmt: skip
    answer = jgz.http.post("/partners/voortgang", data=fields)
    assert answer.status_code == 400 and "Je meldde over 2026 al per half jaar." in answer.text
    assert not (root / "monitoring" / "2026" / "jgz-fryslan.yaml").exists()

    broken = root / "monitoring" / "2025" / "jgz-fryslan.yaml"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text("partner: jgz-fryslan\nperiod: 2025\nactivities: [\n", encoding="utf-8")
    page = jgz.http.get("/partners/voortgang/2025")
    broken.unlink()  # the module's later tests run collect over the instance
    assert "met de hand aangepast" in page.text and "<textarea" not in page.text


def test_run_tells_the_editors_once_a_day_and_the_studio_lists_the_files(
    service: Service, root: Path
) -> None:
    first = newsletter(root, "run", "--now", "2026-12-07 23:00")
    assert first.returncode == 0, first.stderr
    mails = sorted((root / "outbox" / "redactie").glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "redactie@example.org"
    text = message.get_body(("plain",)).get_content()
    assert (
        "- Gemeente Zwolle: submissions/gemeente-zwolle/2026-12-01-gratis-zwemles-voor-elk-kind.yaml (nieuw,"
        in text
    )
    assert "- De Laptopfabriek: monitoring/2026/laptopfabriek.yaml (nieuw," in text
    assert "(ingetrokken," in text and "(apart bewaard," not in text  # the story conflict got a new file
    again = newsletter(root, "run", "--now", "2026-12-08 09:00")  # within the day: no second mail
    assert again.returncode == 0, again.stderr
    assert len(list((root / "outbox" / "redactie").glob("*.eml"))) == 1


def test_the_portal_rows_on_both_engines(demo_root: Path, engine: str) -> None:
    """Links and sessions keep only hashes; a link signs in once, before it expires; a session ends
    at its hour or when signed out; the saves are told to the editors once."""
    from pipeline.infra.store import PortalSession

    config = load_config(demo_root)
    at = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    with Store(config.settings.database) as store:
        store.add_portal_token("h1", "gemeente-zwolle", ZWOLLE, at, at + dt.timedelta(minutes=30))
        store.add_portal_token("h2", "laptopfabriek", LAPTOP, at, at + dt.timedelta(minutes=30))
        first = store.use_portal_token("h1", at + dt.timedelta(minutes=29))
        assert first[0] == "ok" and first[1] is not None and first[1].partner == "gemeente-zwolle"
        assert store.use_portal_token("h1", at + dt.timedelta(minutes=29)) == ("used", None)
        assert store.use_portal_token("h2", at + dt.timedelta(minutes=30)) == ("expired", None)
        assert store.use_portal_token("nope", at) == ("unknown", None)

        who = PortalSession("gemeente-zwolle", ZWOLLE, at + dt.timedelta(hours=8))
        store.start_portal_session("s1", who, at)
        assert store.portal_session("s1", at + dt.timedelta(hours=7, minutes=59)) == who
        assert store.portal_session("s1", at + dt.timedelta(hours=8)) is None
        store.end_portal_session("s1", at + dt.timedelta(hours=1))
        assert store.portal_session("s1", at + dt.timedelta(hours=2)) is None

        store.add_portal_save("gemeente-zwolle", "submissions/gemeente-zwolle/a.yaml", "new", at)
        store.add_portal_save("laptopfabriek", "monitoring/2026/laptopfabriek.yaml", "changed", at)
        untold = store.portal_saves(untold=True)
        assert [(s.partner, s.action) for s in untold] == [
            ("gemeente-zwolle", "new"),
            ("laptopfabriek", "changed"),
        ]
        store.mark_portal_told([s.id for s in untold], at + dt.timedelta(hours=1))
        assert store.portal_saves(untold=True) == []
        assert store.last_portal_digest() == at + dt.timedelta(hours=1)
        tokens = [tuple(r) for r in store.db.execute("SELECT token_hash, email FROM portal_tokens")]
    assert sorted(tokens) == [("h1", ZWOLLE), ("h2", LAPTOP)]  # the hashes the caller gave, nothing else


def test_the_progress_reminder_links_to_the_portals_form(demo_root: Path) -> None:
    from pipeline import monitor
    from pipeline.domain.monitoring import Period

    sources = demo_root / "sources.yaml"
    text = sources.read_text(encoding="utf-8").replace(
        "newsletter:\n", "newsletter:\n  signup: {public_url: https://nieuwsbrief.example.org}\n", 1
    )
    sources.write_text(text, encoding="utf-8")
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        monitor.remind(
            config, store, Period(2026), env={}, now=dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
        )
    mail = next((demo_root / "outbox" / "monitor-2026").glob("laptopfabriek*.eml"))
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "https://nieuwsbrief.example.org/partners/voortgang/2026" in body
    assert "vul het online in (je krijgt een inloglink per mail)" in body  # the instance's language


def test_contacts_are_checked_addresses_of_one_partner_each(demo_root: Path) -> None:
    from pipeline.infra.instance import check_config

    add_contacts(demo_root, (ZWOLLE,), ("verhalen-laptopfabriek.example.org", ZWOLLE))
    _config, problems = check_config(demo_root)
    messages = sorted(p.message for p in problems if p.is_error)
    assert messages == [
        "'communicatie@zwolle.example.org' is a contact of both 'gemeente-zwolle' and 'laptopfabriek';"
        " keep it at one partner",
        "'verhalen-laptopfabriek.example.org' is not an email address (name@example.nl)",
    ]


def test_with_git_commit_a_save_is_a_commit_by_the_partner(demo_root: Path) -> None:
    import subprocess

    from pipeline.infra.store import PortalSession
    from pipeline.portal import repo

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(demo_root), *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    git("init", "-q")
    git(
        "-c",
        "user.name=Redactie",
        "-c",
        "user.email=redactie@example.org",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "begin",
    )
    sources = demo_root / "sources.yaml"
    sources.write_text(
        sources.read_text(encoding="utf-8").replace(
            "newsletter:\n", "newsletter:\n  portal: {git_commit: true}\n", 1
        ),
        encoding="utf-8",
    )
    config = load_config(demo_root)
    story = demo_root / "submissions" / "gemeente-zwolle" / "2026-12-01-een-verhaal.yaml"
    story.parent.mkdir(parents=True)
    story.write_text(EXPECTED, encoding="utf-8")
    who = PortalSession("gemeente-zwolle", ZWOLLE, dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.UTC))
    assert repo.commit(config, [story], who, "Nieuw: submissions/gemeente-zwolle/2026-12-01-een-verhaal.yaml")
    assert git("log", "-1", "--format=%an <%ae>|%s").strip() == (
        "Gemeente Zwolle <communicatie@zwolle.example.org>|Nieuw: submissions/gemeente-zwolle/2026-12-01-een-verhaal.yaml"
    )
    assert git("show", "--name-only", "--format=", "HEAD").split() == [
        "submissions/gemeente-zwolle/2026-12-01-een-verhaal.yaml"
    ]  # only the partner's file, not sources.yaml


def test_behind_https_the_cookies_are_secure(demo_root: Path) -> None:
    sources = demo_root / "sources.yaml"
    text = sources.read_text(encoding="utf-8").replace(
        "newsletter:\n", "newsletter:\n  signup: {public_url: https://nieuwsbrief.example.org}\n", 1
    )
    sources.write_text(text, encoding="utf-8")
    with running_serve(demo_root, "--now", NOW) as https_service:
        # A browser sends a Secure cookie back over https only; the web server in front speaks http to
        # the service, so this client hands the cookie back itself.
        http = httpx.Client(base_url=https_service.base, follow_redirects=False)
        page = http.get("/partners/")
        form_cookie = page.headers["set-cookie"]
        assert "; secure" in form_cookie.lower()
        jar = {"cookie": form_cookie.split(";")[0]}
        asked = http.post("/partners/", data={"csrf_token": field(page.text, "csrf_token"),
                                               "email": "partners@example.org"}, headers=jar)  # fmt: skip
        assert asked.status_code == 200  # the demo's own contact (Samen tegen Kinderarmoede)
        wait_for_mails(demo_root, 1)
        message = email.message_from_bytes(outbox(demo_root)[0].read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",)).get_content()
        assert "https://nieuwsbrief.example.org/partners/inloggen?token=" in body  # never the Host header
        button = http.get(mails_to(demo_root, "partners@example.org")[0], headers=jar)
        data = {"csrf_token": field(button.text, "csrf_token"), "token": field(button.text, "token")}
        done = http.post("/partners/inloggen", data=data, headers=jar)
        assert done.status_code == 303
        cookie = done.headers["set-cookie"].lower()
        assert cookie.startswith("newsletter_partner=") and "; secure" in cookie and "httponly" in cookie
