"""Fixtures shared by every stage's tests."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

pytest_plugins = ["sendgrid_mock"]  # the local SendGrid: Prism on SendGrid's spec, behind a recording proxy

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "pipeline" / "demo_instance"
SHARED = REPO.parent / "shared"


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    """A fresh copy of the demo instance (sources.yaml, submissions, local feeds)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the clone: the feed corpus (CI and developers have it; a user's clone does not)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds the shared feed corpus (developers and CI only)")
    return SHARED


def newsletter(
    root: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The command as a user (or cron) runs it: a separate process, without the developer's SendGrid."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}
    full["PYTHONPATH"] = str(REPO)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )


class Cli:
    """Runs `newsletter` in-process against one instance root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from pipeline.cli import main

        runner = CliRunner()
        return runner.invoke(main, ["--root", str(self.root), *args], input=input, catch_exceptions=False)


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
    from pipeline.core.approval import fingerprint
    from pipeline.core.issues import issue_path, load_issue, write_program_fields
    from pipeline.core.models import Prepared

    path = issue_path(config.root, rendered.issue_id)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'id: "{rendered.issue_id}"\nsubject: {rendered.subject}\nsections:\n  - section: partners\n'
            "    items:\n      - {title: Fietsplan, summary: Fietsen, url: 'https://www.example.nl/f'}\n",
            encoding="utf-8",
        )
    issue = load_issue(config, rendered.issue_id)
    fp = fingerprint(issue, {})
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
