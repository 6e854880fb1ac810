"""The approval holds only for what the editor saw: anything a reader would receive differently after
approval (the issue file, an item in the state database, the templates, the sender) stops the send.

Every case runs as cron and an editor do: `newsletter run --now ...` and `newsletter send ISSUE` as
processes on a copy of a collected demo instance. The clock is fixed: ``--now`` for run, Debian's
``faketime`` for send (which has no --now and refuses an issue more than 72 hours ahead).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import DEMO, REPO, newsletter

from pipeline import curate
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

ISSUE = "2026-12"
COLLECTED_AT = "2026-12-01 10:00"
SEND_AT = "2026-12-10 09:00"
DUE = SEND_AT  # cron warns about a changed issue once its send_at has come
SEND_CLOCK = "2026-12-10 07:30:00"  # UTC: 08:30 in Amsterdam, for 'send' under faketime
APPROVED_AT = dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC)
SUBSCRIBERS = 5  # pipeline/demo_instance/subscribers.csv

# Item ids of the demo's feeds (the id follows from the source and the item's guid or link).
GELDSTRESS = "d4f145c51826"  # kenniscentrum.json: "Geldstress in gezinnen: wat werkt volgens onderzoek"
WERKENDE_OUDERS = "d1771a73936e"  # kenniscentrum.json: research as well
SPORTPAS = "1ff0aadf2bef"  # gemeente-zwolle.rss, story
ONTBIJT = "045bd5f95a47"  # gemeente-zwolle.rss, story
SCHULDEN = "6ff0b9b33be2"  # gemeente-zwolle.rss, story (not in the issue: the swap brings it in)

ISSUE_TEXT = f"""\
id: "{ISSUE}"
subject: Nieuws van december
preheader: Wat partners deden
intro: Beste lezer, dit is de nieuwsbrief van december.
send_at: {SEND_AT}
sections:
  - section: partners
    items:
      - item: {SPORTPAS}
      - item: {ONTBIJT}
        title: Ontbijt op school
        summary: Twaalf scholen geven elke ochtend gratis ontbijt.
  - section: kennis
    items:
      - item: {WERKENDE_OUDERS}
      - item: {GELDSTRESS}
"""


def _replace(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} should be in {relative} once"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return change


def _issue(old: str, new: str) -> Callable[[Path], None]:
    return _replace(f"issues/{ISSUE}.yaml", old, new)


def _template(name: str, old: str, new: str) -> Callable[[Path], None]:
    """The instance's own ``templates/NAME``: the package's default, with one visible change."""

    def change(root: Path) -> None:
        default = (DEMO.parent / "templates" / name).read_text(encoding="utf-8")
        assert default.count(old) == 1, f"{old!r} should be in the package's {name}"
        (root / "templates").mkdir(exist_ok=True)
        (root / "templates" / name).write_text(default.replace(old, new, 1), encoding="utf-8")

    return change


CHANGES: dict[str, Callable[[Path], None]] = {
    "subject": _issue("subject: Nieuws van december", "subject: Nieuws uit december"),
    "preheader": _issue("preheader: Wat partners deden", "preheader: Wat partners deden en doen"),
    "intro": _issue("intro: Beste lezer, dit is", "intro: Beste lezer, hier is"),
    "item swapped": _issue(f"- item: {SPORTPAS}", f"- item: {SCHULDEN}"),
    "own title": _issue("title: Ontbijt op school", "title: Ontbijt op de basisschool"),
    "own summary": _issue("elke ochtend gratis ontbijt", "elke ochtend een gratis ontbijt"),
    "order": _issue(
        f"      - item: {WERKENDE_OUDERS}\n      - item: {GELDSTRESS}\n",
        f"      - item: {GELDSTRESS}\n      - item: {WERKENDE_OUDERS}\n",
    ),
    # The same entries in the same order; one of them now stands in another section.
    "section": _issue(
        f"        summary: Twaalf scholen geven elke ochtend gratis ontbijt.\n"
        f"  - section: kennis\n    items:\n      - item: {WERKENDE_OUDERS}\n",
        f"        summary: Twaalf scholen geven elke ochtend gratis ontbijt.\n"
        f"  - section: uitgelicht\n    items:\n      - item: {WERKENDE_OUDERS}\n"
        f"  - section: kennis\n    items:\n",
    ),
    "template email.mjml": _template("email.mjml", 'width="600px">', 'width="560px">'),
    "template email.txt": _template("email.txt", "{{ s.title }}\n", "Titel: {{ s.title }}\n"),
    "template web.html": _template("web.html", "<body>", '<body class="nieuw">'),
    "template theme.j2": _template("theme.j2", '{% set link = "#1d4e89" %}', '{% set link = "#1d4e8a" %}'),
    "from name": _replace(
        "sources.yaml",
        "name: Samen tegen Kinderarmoede\n    email: nieuwsbrief@",
        "name: Redactie STK\n    email: nieuwsbrief@",
    ),
    "from email": _replace("sources.yaml", "email: nieuwsbrief@example.org", "email: nieuws@example.org"),
    "reply_to": _replace("sources.yaml", "reply_to: redactie@example.org", "reply_to: vragen@example.org"),
    "newsletter title": _replace(
        "sources.yaml", "title: Nieuwsbrief Samen tegen Kinderarmoede (demo)", "title: Nieuwsbrief STK (demo)"
    ),
    "postal address": _replace("sources.yaml", "Voorbeeldstraat 1,", "Voorbeeldstraat 2,"),
    # The item as the state database has it: its partner changed the feed, cron collects it again.
    "item title in the database": _replace(
        "feeds/kenniscentrum.json", "wat werkt volgens onderzoek", "wat werkt volgens nieuw onderzoek"
    ),
    "item summary in the database": _replace(
        "feeds/kenniscentrum.json", "<strong>minder stress</strong>", "<strong>veel minder stress</strong>"
    ),
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo instance after one collect, with the issue written (not approved yet)."""
    root = tmp_path_factory.mktemp("collected") / "demo"
    shutil.copytree(DEMO, root)
    result = newsletter(root, "run", "--now", COLLECTED_AT)
    assert result.returncode == 0, result.stderr
    assert "nothing to send" in result.stdout
    (root / "issues").mkdir(exist_ok=True)
    (root / "issues" / f"{ISSUE}.yaml").write_text(ISSUE_TEXT, encoding="utf-8")
    return root


@pytest.fixture
def approved(collected: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the collected instance with the issue approved."""
    root = tmp_path / "demo"
    shutil.copytree(collected, root)
    config = load_config(root)
    with Store(config.settings.state) as store:
        curate.approve(config, store, ISSUE, "Redactie", now=APPROVED_AT)
    yield root


def send(root: Path) -> subprocess.CompletedProcess[str]:
    """``newsletter send ISSUE`` as a process whose clock says SEND_CLOCK (UTC), a day's hours ahead."""
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("Debian's faketime is not installed (apt-get install faketime): send has no --now")
    # Without the developer's SendGrid, and without an outer faketime (the suite may run under one).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "FAKETIME", "LD_PRELOAD"))}
    env.update(PYTHONPATH=str(REPO), TZ="UTC")
    return subprocess.run(
        [faketime, SEND_CLOCK, sys.executable, "-m", "pipeline", "--root", str(root), "send", ISSUE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def outbox(root: Path) -> list[Path]:
    return sorted((root / "outbox").rglob("*.eml")) if (root / "outbox").exists() else []


def test_the_unchanged_issue_goes_out_by_run(approved: Path) -> None:
    """The control: without a change, cron sends the very instance the other cases change."""
    result = newsletter(approved, "run", "--now", DUE)
    assert result.returncode == 0, result.stderr
    assert "changed after" not in result.stdout + result.stderr
    assert f"issue {ISSUE}: {SUBSCRIBERS} accepted," in result.stdout
    assert len(list((approved / "outbox" / ISSUE).glob("*.eml"))) == SUBSCRIBERS


def test_the_unchanged_issue_goes_out_by_send(approved: Path) -> None:
    result = send(approved)
    assert result.returncode == 0, result.stderr
    assert f"Issue {ISSUE} to outbox/: accepted {SUBSCRIBERS}," in result.stdout
    assert len(list((approved / "outbox" / ISSUE).glob("*.eml"))) == SUBSCRIBERS


@pytest.mark.parametrize("what", list(CHANGES))
def test_a_change_after_approval_stops_run_and_send(approved: Path, what: str) -> None:
    CHANGES[what](approved)

    # Cron: collects (so a changed feed item is in the database), then does not send it.
    ran = newsletter(approved, "run", "--now", DUE)
    assert ran.returncode == 0, ran.stderr
    assert (
        f"warning: issue {ISSUE}: send_at 2026-12-10 09:00 CET has come, but it changed after it was"
        f" approved: not sent; run 'newsletter check {ISSUE}' and 'newsletter approve {ISSUE} --by NAME'"
    ) in ran.stderr
    assert "nothing to send" in ran.stdout
    assert outbox(approved) == []

    # The editor: 'send' refuses, says why and what to do.
    sent = send(approved)
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert (
        f"issue {ISSUE} changed after it was approved; only an approved, unchanged issue goes to the list"
    ) in sent.stderr
    assert f"newsletter approve {ISSUE} --by NAME" in sent.stderr
    assert "Traceback" not in sent.stderr
    assert outbox(approved) == []

    status = newsletter(approved, "status")
    assert "changed since approval" in status.stdout
