"""The package as a user installs it (a wheel, as pip and pipx build it): demo and init work from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_the_wheel_carries_the_demo_and_the_skeleton(tmp_path: Path) -> None:
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEWSLETTER_ROOT")}
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        str(dist),
        str(REPO),
        cwd=tmp_path,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("newsletter_pipeline-*.whl")
    installed = _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path, env=env)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Only the wheel's copy of the package: the dependencies come from this environment.
    env["PYTHONPATH"] = str(target)
    where = _run(sys.executable, "-c", "import pipeline; print(pipeline.__file__)", cwd=elsewhere, env=env)
    assert where.stdout.strip() == str(target / "pipeline" / "__init__.py")

    demo = _run(
        sys.executable, "-m", "pipeline", "demo", "--into", str(tmp_path / "demo"), cwd=elsewhere, env=env
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "[run] 6 sources: 0 fetched, 6 unchanged" in demo.stdout
    assert (
        "issue 2026-12: 5 accepted, 0 skipped, 0 failed, 0 unknown (complete, goes out 2026-11-26 10:00 CET)"
        in demo.stdout
    )
    assert "until 09:50, 'newsletter cancel 2026-12' recalls it" in demo.stdout
    assert "[publish] at 10:05, after it went out: 1 issue(s)" in demo.stdout
    # One clock for the whole demo: the report counts the issue it sent.
    assert "10 featured in sent issues; 1 issue sent in the period" in demo.stdout
    assert len(list((tmp_path / "demo" / "outbox" / "2026-12").glob("*.eml"))) == 5
    # The progress files and the flawed one travel in the wheel too.
    assert "4 of 6 partners reported 8 activities" in demo.stdout
    assert "[validate] monitoring/2026/leerplicht-rotterdam.yaml, a partner's progress" in demo.stdout
    # The readers: the list moves into the state database, a sign-up, SendGrid's signed events.
    assert "[subscribers import] subscribers.csv into the state database: 5 active" in demo.stdout
    assert "follows it: confirmed; 6 active subscribers, consent on record" in demo.stdout
    assert (
        "[webhook] 11 signed events: 11 stored, 1 subscriber inactive (a bounce); the same body unsigned:"
        " refused (401: the call is not signed)" in demo.stdout
    )
    assert (
        "Clicks (on the 1 issue sent in the period): 4 readers clicked; 10 clicks on 7 of 12 stories,"
        " 0 on other links; most read: Gemeente Zwolle (4 readers)" in demo.stdout
    )
    report = (tmp_path / "demo" / "build" / "report" / "index.html").read_text(encoding="utf-8")
    assert "Wat lezers deden" in report and "Gratis ontbijt op twaalf basisscholen" in report
    assert len(list((tmp_path / "demo" / "outbox" / "aanmelden").glob("*.eml"))) == 1

    init = _run(sys.executable, "-m", "pipeline", "init", str(tmp_path / "new"), cwd=elsewhere, env=env)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "new" / ".gitignore").is_file() and (tmp_path / "new" / "issues").is_dir()
    checked = _run(
        sys.executable, "-m", "pipeline", "--root", str(tmp_path / "new"), "validate", cwd=elsewhere, env=env
    )
    assert checked.returncode == 0, checked.stderr
