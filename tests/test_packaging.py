"""The package as a user installs it (a wheel, as pip and pipx build it): demo and init work from any folder.

The wheel is built and installed from what this environment has, without a package index: no build
isolation (the build backend is the installed setuptools, from the test extra), ``--no-index``,
``--no-deps``, and the network cut off (a network namespace of its own where ``unshare`` allows
it; otherwise every index and proxy points at a closed port on loopback).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from conftest import on_fixed_day
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def _offline() -> tuple[list[str], dict[str, str]]:
    """A command prefix and environment under which no package index can be reached."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        prefix = [unshare, "-rn"]  # a network namespace with nothing in it, not even loopback up
    else:
        prefix = []
    dead = "http://127.0.0.1:9"  # the discard port: nothing answers there
    env = {
        "PIP_NO_INDEX": "1",
        "PIP_INDEX_URL": f"{dead}/simple",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_FIND_LINKS": "",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        **{k: dead for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
    }
    return prefix, env


def test_the_build_requirements_are_installed() -> None:
    """Without isolation the build uses this environment's backend: it must be the one pyproject asks for."""
    build = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    for raw in build["requires"]:
        req = Requirement(raw)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            version = None
        assert version is not None and req.specifier.contains(version, prereleases=True), (
            f"the build needs {raw} (pyproject.toml, build-system), this environment has"
            f" {version or 'none'}: run \"pip install -e '.[test]'\""
        )


def test_the_wheel_carries_the_demo_and_the_skeleton(tmp_path: Path) -> None:
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEWSLETTER_ROOT")}
    prefix, offline = _offline()
    pip = [*prefix, sys.executable, "-m", "pip"]
    quiet = ["-q", "--no-deps", "--no-build-isolation", "--no-index"]
    built = _run(*pip, "wheel", *quiet, "-w", str(dist), str(REPO), cwd=tmp_path, env={**env, **offline})
    assert built.returncode == 0, built.stderr
    assert not re.search(r"(?i)looking in indexes|downloading|collecting", built.stdout + built.stderr)
    (wheel,) = dist.glob("newsletter_pipeline-*.whl")
    installed = _run(*pip, "install", *quiet, "--target", str(target), str(wheel), cwd=tmp_path, env={**env, **offline})  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Only the wheel's copy of the package: the dependencies come from this environment.
    env["PYTHONPATH"] = str(target)
    where = _run(sys.executable, "-c", "import pipeline; print(pipeline.__file__)", cwd=elsewhere, env=env)
    assert where.stdout.strip() == str(target / "pipeline" / "__init__.py")
    # The data files the rules read, at their place in the layers (pyproject.toml's package-data).
    assert (target / "pipeline" / "domain" / "data" / "stadhuistaal.txt").is_file()
    assert (target / "pipeline" / "locale" / "nl" / "LC_MESSAGES" / "newsletter.mo").is_file()

    demo = _run(sys.executable, "-m", "pipeline", "demo", str(tmp_path / "demo"), cwd=elsewhere, env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (
        "[run] issue 2026-12: 5 accepted, into outbox/2026-12/ (5 .eml files), held until 10:00;"
        " 'newsletter cancel 2026-12' recalls it until 09:50; a second run sends nothing"
    ) in demo.stdout
    assert "[publish] at 10:05, after it went out: 1 issue(s)" in demo.stdout
    assert len(list((tmp_path / "demo" / "outbox" / "2026-12").glob("*.eml"))) == 5
    # The progress files and the flawed one travel in the wheel too; one clock for the whole demo: the
    # report counts the issue it sent, and the readers' clicks on it.
    assert "  monitoring/2026/leerplicht-rotterdam.yaml: 5 errors: a quarter as period" in demo.stdout
    assert (
        "[report] build/report/index.html and 20 CSV files: 12 items from 6 of 7 partners; progress from 4 of 6"
        " partners; 1 partner to call; 4 readers clicked"
    ) in demo.stdout
    # The readers: the list moves into the state database, a sign-up, SendGrid's signed events.
    assert "[subscribers import] subscribers.csv into the state database: 5 active" in demo.stdout
    assert "follows it: confirmed; 6 active subscribers, consent on record" in demo.stdout
    assert (
        "[webhook] 11 signed events: 11 stored, 1 subscriber inactive (a bounce); the same body unsigned:"
        " refused (401: the call is not signed)" in demo.stdout
    )
    assert (
        demo.stdout.splitlines()[-1]
        == f"cd {tmp_path / 'demo'} && {sys.executable} -m pipeline studio 2026-12"
    )
    report = (tmp_path / "demo" / "build" / "report" / "index.html").read_text(encoding="utf-8")
    assert "Wat lezers deden" in report and "Gratis ontbijt op twaalf basisscholen" in report
    assert len(list((tmp_path / "demo" / "outbox" / "aanmelden").glob("*.eml"))) == 1

    init = _run(sys.executable, "-m", "pipeline", "init", str(tmp_path / "new"), cwd=elsewhere, env=env)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "new" / ".gitignore").is_file() and (tmp_path / "new" / "issues").is_dir()
    checked = _run(
        sys.executable,
        "-m",
        "pipeline",
        "--root",
        str(tmp_path / "new"),
        *on_fixed_day(["validate"]),
        cwd=elsewhere,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr
