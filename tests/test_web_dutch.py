"""What people read of the web services, render, the archive, the subscriber list and the locks, in
Dutch (NEWSLETTER_LANG=nl): the public service's error pages (lang="nl"), render's errors, an import's
problem lines, a second send's refusal. Every expected line is written here by hand."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import newsletter
from servers import Service, running

from pipeline.domain import i18n
from pipeline.infra.locking import Busy, exclusive

NL = {"NEWSLETTER_LANG": "nl"}


def said(lines: list[str], message: str) -> bool:
    """Whether the command printed ``message`` as its error. The prefix is the command line's own
    ('Fout: '; 'Error: ' until the command line's Dutch is merged in)."""
    return f"Fout: {message}" in lines or f"Error: {message}" in lines


def fixed(lines: list[str], hint: str) -> bool:
    return f"Oplossing: {hint}" in lines or f"Fix: {hint}" in lines


@pytest.fixture
def dutch_service(demo_root: Path) -> Iterator[Service]:
    # The address line is the command line's ("Serving ..." / "Draait op ...").
    pattern = r"(?:Serving|Draait op) (http://[^/]+)(/\S*) "
    with running(demo_root, ["serve", "--port", "0"], pattern, env=NL) as service:
        yield service


def test_the_public_service_answers_in_dutch(dutch_service: Service) -> None:
    with httpx.Client(base_url=dutch_service.base, timeout=10) as http:
        missing = http.get("/bestaat-niet")
        big = http.post("/aanmelden", data={"email": "a@b.nl", "name": "x" * 70_000})
        wrong_kind = http.post("/webhooks/sendgrid", content=b"[]", headers={"content-type": "text/plain"})
        as_json = http.get("/bestaat-niet", headers={"accept": "application/json"})
    assert missing.status_code == 404
    page = missing.text
    assert page.startswith('<!doctype html>\n<html lang="nl"><head>')
    assert "<title>404 Niet gevonden</title>" in page
    assert "<h1>404 Niet gevonden</h1><p>Op dit adres staat geen pagina.</p>" in page
    assert '<p><a href="/">Terug naar het begin</a></p>' in page
    assert "Not Found" not in page and 'lang="en"' not in page
    assert big.status_code == 413
    assert '<html lang="nl">' in big.text
    assert "<h1>413 Te groot</h1><p>het verzoek is groter dan 64 KB</p>" in big.text
    assert "<p class='hint'>Oplossing: stuur minder tekst tegelijk</p>" in big.text
    assert (wrong_kind.status_code, wrong_kind.json()) == (415, {"error": "stuur application/json"})
    assert as_json.json() == {"error": "Op dit adres staat geen pagina."}


ISSUE = """\
id: 2026-12
subject: Nieuws van partners
sections:
  - section: partners
    items:
      - item: bestaat-niet
"""


def test_render_says_in_dutch_what_is_missing(demo_root: Path) -> None:
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(ISSUE, encoding="utf-8")
    result = newsletter(demo_root, "render", "2026-12", env=NL)
    assert result.returncode != 0
    assert (
        "issues/2026-12.yaml:6: bericht 'bestaat-niet' staat niet in de database; draai 'newsletter collect',"
        " of haal het bericht weg (of geef het title, summary en url)"
    ) in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.stderr


EMAIL_MJML = """\
<mjml>
<mj-body>
<mj-section><mj-column>
<mj-txt>{{ v.subject }}</mj-txt>
</mj-column></mj-section>
</mj-body>
</mjml>
"""


def test_render_shows_an_mjml_mistake_in_dutch(demo_root: Path) -> None:
    (demo_root / "templates").mkdir(exist_ok=True)
    (demo_root / "templates" / "email.mjml").write_text(EMAIL_MJML, encoding="utf-8")
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(
        ISSUE.replace(
            "      - item: bestaat-niet\n",
            "      - title: Een bericht\n        summary: Kort.\n        url: https://example.org/\n",
        ),
        encoding="utf-8",
    )
    result = newsletter(demo_root, "render", "2026-12", env=NL)
    lines = result.stderr.splitlines()
    assert result.returncode != 0
    assert said(lines, "MJML uit templates/email.mjml, regel 4: onbekend MJML-element <mj-txt>"), lines
    assert ">    4 | <mj-txt>Nieuws van partners</mj-txt>" in lines
    assert fixed(
        lines,
        "verbeter het element in templates/email.mjml (het regelnummer is van de gemaakte MJML;"
        " dat in de template ligt er dichtbij)",
    ), lines


def test_an_import_says_in_dutch_which_rows_it_left_out(demo_root: Path) -> None:
    (demo_root / "lijst.csv").write_text(
        "email;naam\nanna@voorbeeld.nl;Anna\n;Leeg\ngeen-adres;Fout\n", encoding="utf-8"
    )
    result = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "lijst.csv"), "--basis", "oud formulier", env=NL
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    # 'waarschuwing: ' is the problem line's own word ('warning: ' until the command line's Dutch is in).
    for warning in ("waarschuwing", "warning"):
        expected = [
            f"lijst.csv:3: {warning}: de kolom email is leeg; verbeter of verwijder deze regel",
            f"lijst.csv:4: {warning}: in de kolom email staat geen geldig adres; verbeter of verwijder deze regel",
        ]
        if lines == expected:
            break
    else:
        raise AssertionError(lines)

    (demo_root / "zonder.csv").write_text("naam;adres\nAnna;anna@voorbeeld.nl\n", encoding="utf-8")
    headerless = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "zonder.csv"), "--basis", "oud", env=NL
    )
    assert headerless.returncode != 0
    assert headerless.stderr.splitlines()[0] == (
        "zonder.csv:1: de eerste regel moet een kolom 'email' hebben (gescheiden door ';' of ',')"
    )
    no_basis = newsletter(
        demo_root, "subscribers", "import", str(demo_root / "lijst.csv"), "--basis", " ", env=NL
    )
    lines = no_basis.stderr.splitlines()
    assert said(lines, "een import heeft een grondslag nodig"), lines
    assert fixed(lines, "geef --basis, bijvoorbeeld --basis 'toestemming via het oude formulier (2024)'"), (
        lines
    )


def _hold(lock: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with exclusive(Path(lock), "send", "2026-12"):
        ready.set()
        time.sleep(60)


def test_a_second_send_is_refused_in_one_dutch_sentence(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    lock = tmp_path / "locks" / "send-2026-12.lock"
    holder = ctx.Process(target=_hold, args=(str(lock), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with i18n.using("nl"), pytest.raises(Busy) as e, exclusive(lock, "send", "2026-12"):
            pass
        assert e.value.message == f"nieuwsbrief 2026-12 wordt al verstuurd (proces {holder.pid})"
        assert (
            e.value.hint == "wacht tot het klaar is; een proces dat is afgebroken geeft het slot vanzelf vrij"
        )
        with i18n.using("nl"), pytest.raises(Busy) as e, exclusive(lock, "run"):
            pass
        assert e.value.message == f"er loopt al een andere 'newsletter run' (proces {holder.pid})"
    finally:
        holder.kill()
        holder.join()
