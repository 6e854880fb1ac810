"""Fixtures shared by every stage's tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline.domain import i18n
from pipeline.domain.issues import send_at_text

pytest_plugins = [
    "sendgrid_mock",
    "postgres",
]  # the local SendGrid (Prism behind a recording proxy); PostgreSQL

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "pipeline" / "demo_instance"
SHARED = REPO.parent / "shared"

# The tests read the program's messages in English, the language its code is written in: every
# command they start (NEWSLETTER_LANG) and the library in this process. The Dutch catalog is
# checked whole by test_catalog.py, and Dutch output where people read it by test_i18n.py.
os.environ["NEWSLETTER_LANG"] = "en"
i18n.set_language("en")


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    """A fresh copy of the demo instance (sources.yaml, submissions, local feeds)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one whole ``newsletter demo`` run (into the outbox, no SendGrid key), once per test
    process, for tests that only read what it built (its email, its report). Do not change it."""
    root = tmp_path_factory.mktemp("demo-built") / "demo"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the clone: the feed corpus (CI and developers have it; a user's clone does not)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds the shared feed corpus (developers and CI only)")
    return SHARED


# The day the tests' 'validate' takes as today: it warns about a publication date after today, and
# the demo's stories are from November 2026. A test that is about that warning passes its own --now.
VALIDATE_NOW = "2026-12-07 12:00"
# The commands whose result depends on the date (ages in the ranking, dates in the future): in the
# tests they run on VALIDATE_NOW unless the test gives a --now itself.
ON_A_FIXED_DAY = ("validate", "collect", "draft", "publish")


def on_fixed_day(args: Sequence[str]) -> list[str]:
    """``args`` with ``--now VALIDATE_NOW`` after the command when it is one of ``ON_A_FIXED_DAY``
    (the first word that is not an option) and the test gave no --now itself."""
    out = list(args)
    words = [i for i, a in enumerate(out) if not a.startswith("-") and (i == 0 or out[i - 1] != "--root")]
    if not words or out[words[0]] not in ON_A_FIXED_DAY:
        return out
    if not any(a == "--now" or a.startswith("--now=") for a in out):
        out[words[0] + 1 : words[0] + 1] = ["--now", VALIDATE_NOW]
    return out


def newsletter(
    root: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The command as a user (or cron) runs it: a separate process, without the developer's SendGrid.
    ``validate``, ``collect``, ``draft`` and ``publish`` run on a fixed day (VALIDATE_NOW), so that no test
    depends on today's date."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}
    full["PYTHONPATH"] = str(REPO)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--root", str(root), *on_fixed_day(args)],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )


# An issue as an editor writes it by hand: one announcement, no collected items needed.
HAND_WRITTEN = """\
id: {id}
subject: Nieuws van partners
preheader: Wat partners deden
intro: Beste lezer,
{send_at}sections:
  - section: partners
    items:
      - title: Doe mee aan de online sessie
        summary: Elke twee weken, voor partners.
        url: https://www.example.org/sessies
"""


def editor_time(when: dt.datetime) -> str:
    """``when`` (in the instance's zone) as an editor writes a send_at: to the minute, with its offset only
    in the hour that comes twice when the clocks go back (without one, that hour is read as the first)."""
    if when.replace(fold=1 - when.fold).utcoffset() != when.utcoffset():
        return send_at_text(when)
    return f"{when:%Y-%m-%d %H:%M}"


def write_issue(root: Path, issue_id: str = "2026-12", send_at: str | None = None) -> Path:
    """``issues/ISSUE.yaml`` written by hand (HAND_WRITTEN), with ``send_at`` when given."""
    path = root / "issues" / f"{issue_id}.yaml"
    path.parent.mkdir(exist_ok=True)
    when = f"send_at: {send_at}\n" if send_at else ""
    path.write_text(HAND_WRITTEN.format(id=issue_id, send_at=when), encoding="utf-8")
    return path


class Cli:
    """Runs `newsletter` in-process against one instance root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from pipeline.cli.base import main

        runner = CliRunner()
        command = ["--root", str(self.root), *on_fixed_day(args)]
        return runner.invoke(main, command, input=input, catch_exceptions=False)


@pytest.fixture
def cli(demo_root: Path) -> Cli:
    return Cli(demo_root)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a skipped test is a failure: CI installs everything, so nothing may be left unrun."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reporter.write_line(f"CI: skipped, but CI must run it: {report.nodeid}: {reason}", red=True)
        session.exitstatus = 1


# -- an approved issue for deliver's own tests ---------------------------------------------------
def approved(config: Any, rendered: Any, placements: Sequence[tuple[str, str]] = ()) -> tuple[Any, Any]:
    """``issues/ID.yaml`` (one hand-written announcement) approved, and a ``Prepared`` that carries
    ``rendered``: what ``pipeline.render.prepare`` gives deliver, without templates or items."""
    from pipeline.domain.issues import Prepared, issue_path
    from pipeline.infra.approval import fingerprint
    from pipeline.infra.instance import load_issue, write_program_fields

    path = issue_path(config.root, rendered.issue_id)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'id: "{rendered.issue_id}"\nsubject: {rendered.subject}\nsections:\n  - section: partners\n'
            "    items:\n      - {title: Fietsplan, summary: Fietsen, url: 'https://www.example.nl/f'}\n",
            encoding="utf-8",
        )
    issue = load_issue(config, rendered.issue_id)
    fp = fingerprint(config, issue, {})
    if issue.status == "draft":
        at = dt.datetime(2026, 11, 26, 9, 0, tzinfo=config.settings.timezone)
        approval = {"by": "Test", "at": at, "fingerprint": fp}
        write_program_fields(path, str(path), status="approved", approval=approval)
        issue = load_issue(config, rendered.issue_id)
    return issue, Prepared(issue, {}, None, rendered, fp, tuple(placements))


def list_send(config: Any, store: Any, rendered: Any, transport: Any, **kw: Any) -> Any:
    """``deliver.send_list`` of ``rendered`` as an approved issue (``placements=`` as sent_items)."""
    from pipeline.deliver import send_list

    issue, prepared = approved(config, rendered, kw.pop("placements", ()))
    return send_list(config, store, issue, transport, prepared=prepared, **kw)


# -- a state database with items and sent issues, for any stage's tests -----------------------------
def make_item(item_id: str, published: dt.datetime, *, partner: str | None = None, **fields: Any) -> Any:
    """An item as collect leaves it; every field can be given, the rest follow from the id."""
    from pipeline.domain.models import Item

    summary = str(fields.pop("summary", f"Samenvatting van {item_id}."))
    defaults: dict[str, Any] = {
        "url": f"https://example.org/{item_id}",
        "title": f"Titel van {item_id}",
        "summary_html": f"<p>{summary}</p>",
        "summary_text": summary,
        "source": partner or "kenniscentrum",
        "kind": "story",
        "first_seen": published,
    }
    return Item(id=item_id, published=published, partner=partner, **{**defaults, **fields})


@dataclasses.dataclass(frozen=True)
class Sent:
    """An issue as deliver records it before its first request (and, with ``completed``, after the last)."""

    id: str
    started: dt.datetime
    placements: Sequence[tuple[str, str]] = ()
    completed: dt.datetime | None = None
    rendered: Any = None  # a Rendered; default: a plain one with the id as subject


def seed(
    store: Any, items: Sequence[Any] = (), sent: Sequence[Sent] = (), *, now: dt.datetime | None = None
) -> None:
    """Put ``items`` into ``store`` and record ``sent`` issues, in one transaction."""
    from pipeline.collect.feeds import content_hash
    from pipeline.domain.models import Rendered

    with store.transaction():
        for item in items:
            store.put_item(item, content_hash(item), now or item.first_seen or item.published)
        for s in sent:
            rendered = s.rendered or Rendered(
                s.id, f"Nieuwsbrief {s.id}", "", "<p>html</p>", "text", "<p>web</p>"
            )
            store.record_sent_issue(rendered, "sha256:seeded", s.placements, s.started)
            if s.completed is not None:
                store.complete_sent_issue(s.id, s.completed)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium per test module (starting it is most of a browser test's time).

    Not for the whole session: Playwright's sync API keeps an event loop running in this thread,
    and the stages' own asyncio.run (collect, check --links) refuses to start inside one."""
    from browser import browser_or_skip

    with browser_or_skip() as b:
        yield b
