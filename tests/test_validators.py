"""The Nu HTML Checker on every page a person opens: the demo's report, its published site, the
email's web page and the studio's pages (fetched from a running studio on loopback), all in ONE Java
run (tests/vnu.py). 0 errors each; the email itself may carry only what Outlook needs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO
from servers import running_studio
from vnu import Problem, explain, java_or_skip, validate

# What the studio shows of the demo's issue, a page for an issue that has no file yet, and its 404.
STUDIO_PAGES = {
    "index": "/",
    "issue": "/issue/2026-12",
    "source": "/issue/2026-12/source",
    "web-preview": "/issue/2026-12/preview/web",
    "missing": "/issue/2027-01",
    "not-found": "/nergens",  # the error page (pipeline/infra/web.py)
}
# A page with three mistakes on known lines: the checker, and the way its errors are read, must find
# them, or a "0 errors" below would mean nothing.
BROKEN = """<!DOCTYPE html>
<html lang="nl">
<head><meta charset="utf-8"><title>Kapot</title></head>
<body>
<p id="dubbel">een</p>
<p id="dubbel">twee</p>
<svg viewBox="0 0 10 10" width="10" height="10"><text x="1" y="5" text-anchor="left">x</text></svg>
<iframe src="a.html" title="a" width="100%"></iframe>
</body>
</html>
"""
# The MJML email carries Outlook's VML namespaces and mso- styles, which no HTML standard knows:
# these and nothing else (its web page, web.html, has 0 errors).
OUTLOOK = ("Attribute “xmlns:v” not allowed here.", "Attribute “xmlns:o” not allowed here.", "CSS: “mso-")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[Path, list[Problem]]]]:
    """The demo, run once; the studio's pages saved beside it; everything checked in one run."""
    root = tmp_path_factory.mktemp("valid") / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", str(root)], capture_output=True, text=True, timeout=180,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    studio_dir = root.parent / "studio"
    studio_dir.mkdir()
    with running_studio(root, "2026-12") as studio:
        for name, path in STUDIO_PAGES.items():
            response = httpx.get(studio.base + path, timeout=30)
            assert response.status_code in (200, 404), (path, response.status_code)
            (studio_dir / f"{name}.html").write_text(response.text, encoding="utf-8")
    (root.parent / "broken.html").write_text(BROKEN, encoding="utf-8")
    pages = sorted((root / "build").rglob("*.html")) + sorted(studio_dir.glob("*.html"))
    yield root, validate([*pages, root.parent / "broken.html"])


def test_the_checker_finds_planted_mistakes_on_their_lines(
    checked: tuple[Path, dict[Path, list[Problem]]],
) -> None:
    root, errors = checked
    found = [(p.line, p.message) for p in errors[(root.parent / "broken.html").resolve()]]
    assert found == [
        (6, "Duplicate ID “dubbel”."),
        (7, "Bad value “left” for attribute “text-anchor” on element “text”."),
        (
            8,
            "Bad value “100%” for attribute “width” on element “iframe”: Expected a digit but saw “%” instead.",
        ),
    ]


def test_the_report_has_no_errors(checked: tuple[Path, dict[Path, list[Problem]]]) -> None:
    root, errors = checked
    report = (root / "build" / "report" / "index.html").resolve()
    assert report.read_text(encoding="utf-8").count("<svg ") == 26  # 13 charts, each drawn twice
    assert errors[report] == [], explain(errors[report])


def test_every_page_of_the_site_has_no_errors(checked: tuple[Path, dict[Path, list[Problem]]]) -> None:
    root, errors = checked
    site = sorted(p for p in errors if (root / "build" / "site").resolve() in p.parents)
    assert len(site) >= 18  # the archive, the issue, 9 theme and 7 partner pages (and what comes)
    assert {
        str(p.relative_to((root / "build" / "site").resolve())): explain(errors[p]) for p in site if errors[p]
    } == {}


def test_the_emails_web_page_has_no_errors_and_the_email_only_outlooks(
    checked: tuple[Path, dict[Path, list[Problem]]],
) -> None:
    root, errors = checked
    web = (root / "build" / "2026-12" / "web.html").resolve()
    assert errors[web] == [], explain(errors[web])
    email = (root / "build" / "2026-12" / "email.html").resolve()
    assert [str(p) for p in errors[email] if not p.message.startswith(OUTLOOK)] == []


@pytest.mark.parametrize("name", list(STUDIO_PAGES))
def test_the_studios_pages_have_no_errors(checked: tuple[Path, dict[Path, list[Problem]]], name: str) -> None:
    root, errors = checked
    page = (root.parent / "studio" / f"{name}.html").resolve()
    assert "</html>" in page.read_text(encoding="utf-8")  # a whole page, not an empty answer
    assert errors[page] == [], explain(errors[page])


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)])
def test_without_java_it_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no java on it
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(
        BaseException, match="Java is not installed \\(apt-get install default-jre-headless"
    ) as caught:
        java_or_skip()
    assert caught.type is outcome  # a failure in CI, not a skip (nor a skip where a failure is due)
