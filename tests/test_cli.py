"""The command line: help for every command, --root and NEWSLETTER_ROOT, init, demo, exit codes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Cli, on_fixed_day

from pipeline.cli.base import COMMANDS, main
from pipeline.cli.reference import reference


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    names = main.list_commands(main.make_context("newsletter", [], resilient_parsing=True))
    assert set(names) == set(COMMANDS) and len(names) >= 14
    for name in names:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"'newsletter {name} --help' has no example"
        assert result.output.startswith(f"Usage: main {name} "), name  # CliRunner names it after the function


def test_each_command_lives_in_the_module_the_table_names():
    for name, module in COMMANDS.items():
        command = main.get_command(main.make_context("newsletter", [], resilient_parsing=True), name)
        assert command is not None and command.callback is not None
        assert command.callback.__module__ == f"pipeline.cli.{module}", name


def test_the_command_reference_in_the_docs_is_the_commands_own_help():
    """docs/commands.md is made from --help; regenerate it: python -m pipeline.cli.reference > docs/commands.md"""
    written = (Path(__file__).resolve().parents[1] / "docs" / "commands.md").read_text(encoding="utf-8")
    assert written == reference(), (
        "docs/commands.md is stale: python -m pipeline.cli.reference > docs/commands.md"
    )


def test_usage_error_exits_2():
    result = CliRunner().invoke(main, ["validate", "--no-such-option"])
    assert result.exit_code == 2
    assert "Error: No such option '--no-such-option'." in result.stderr


def test_root_from_environment(demo_root: Path):
    result = CliRunner().invoke(main, on_fixed_day(["validate"]), env={"NEWSLETTER_ROOT": str(demo_root)})
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 11 files are valid.\n"


def test_init_creates_a_working_instance(tmp_path: Path):
    target = tmp_path / "nieuwsbrief"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "sources.yaml").is_file()
    assert (target / ".gitignore").read_text().count("subscribers.csv") == 1
    story = (target / "submissions" / "voorbeeld-verhaal.yaml").read_text(encoding="utf-8")
    # A partner's communications officer reads the comments: in Dutch; the keys stay English.
    assert story.startswith(
        "# Eén verhaal per bestand. De namen voor de dubbele punt blijven Engels; wat ze betekenen staat erachter.\n"
        "# Controleer het bestand met:  newsletter validate submissions/voorbeeld-verhaal.yaml\n"
        "partner: voorbeeld-gemeente        # de code van je organisatie, zoals in sources.yaml\n"
    )
    assert "# ervaringsdeskundigen: true       # mensen met ervaring met armoede deden mee\n" in story
    check = CliRunner().invoke(main, ["--root", str(target), *on_fixed_day(["validate"])])
    assert check.exit_code == 0, check.output
    assert check.stdout == "OK: 2 files are valid.\n"
    again = CliRunner().invoke(main, ["init", str(target)])
    assert again.exit_code == 1
    assert again.stderr.splitlines() == [
        f"Error: {target} is not empty",
        "Fix: choose a new folder name, or remove the files that are in it",
    ]


def test_the_command_runs_as_a_process(demo_root: Path):
    """The installed entry point, as cron or a partner would call it."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "--root",
            str(demo_root),
            *on_fixed_day(["validate"]),
            "flawed/onze-moestuin.yaml",
        ],
        capture_output=True,
        text=True,
        cwd=demo_root,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[0] == (
        "flawed/onze-moestuin.yaml:2: unknown partner 'gemeente-zwole': did you mean 'gemeente-zwolle'? "
        "Known partners: gemeente-zwolle, jgz-fryslan, leergeld-brabant, laptopfabriek, leerplicht-rotterdam, "
        "samen-alliantie, woningcorporatie-oost"
    )
    assert "Traceback" not in proc.stderr


def _not_a_database(cli: Cli, path: Path) -> None:
    path.write_bytes(b"not a database, just text " * 10)


def _someone_elses_tables(cli: Cli, path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (x)")
    db.close()


def _a_damaged_page(cli: Cli, path: Path) -> None:
    assert cli("collect").exit_code == 0
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    size = path.stat().st_size
    with path.open("r+b") as f:  # every page after the schema's first: the items' data and indexes
        f.seek(size // pages * 2)
        f.write(b"\xff" * (size - size // pages * 2))


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_not_a_database, "file is not a database"),
        (_someone_elses_tables, "table items already exists"),  # met while migrating
        (_a_damaged_page, "database disk image is malformed"),  # met by a query, deep in a stage
    ],
)
def test_a_state_database_that_cannot_be_used_is_an_error_line(
    cli: Cli, spoil: Callable[[Cli, Path], None], reason: str
):
    path = cli.root / "state" / "newsletter.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    spoil(cli, path)
    result = cli("items")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot use the state database {path}: {reason}",
        "Fix: check the path in sources.yaml (newsletter.state); if the file is damaged or not this pipeline's,"
        " move it aside and restore a backup (or collect afresh into a new one)",
    ]


def test_dates_on_the_command_line_are_read_one_way(cli: Cli):
    """--since (items, draft) and --now (run, validate): a date or a date and time; a bad one is a usage error."""
    for args, line in [
        (("items", "--since", "2026-13-01"), "Error: Invalid value for --since: '2026-13-01' is not a date like 2026-11-01"),
        (("draft", "2026-12", "--since", "gisteren"), "Error: Invalid value for --since: 'gisteren' is not a date like 2026-11-01"),
        (("run", "--now", "morgen"), "Error: Invalid value for --now: 'morgen' is not a date and time like 2026-12-10T09:00 or 2026-12-10T09:00+01:00"),
        (("validate", "--now", "morgen"), "Error: Invalid value for --now: 'morgen' is not a date like 2026-12-10"),
    ]:  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stderr.splitlines()[-1] == line
    assert not (cli.root / "state").exists(), "a usage error opens no state database"
    assert cli("collect").exit_code == 0
    day, midnight = cli("items", "--since", "2026-11-20"), cli("items", "--since", "2026-11-20 00:00")
    assert day.stdout == midnight.stdout and len(day.stdout.splitlines()) > 1


def test_a_folder_that_cannot_be_written_is_an_error_line(cli: Cli, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way\n", encoding="utf-8")
    assert cli("collect").exit_code == 0
    report = cli("report", "--out", str(blocker / "verslag"))
    assert report.exit_code == 1
    assert report.stderr.splitlines() == [
        f"Error: cannot write {blocker / 'verslag' / 'index.html'}: Not a directory",
        "Fix: check that the folder exists or can be made, that you may write there and the disk is not full",
    ]
    init = CliRunner().invoke(main, ["init", str(blocker / "nieuwsbrief")])
    assert init.exit_code == 1
    assert init.stderr.splitlines() == [
        f"Error: {blocker / 'nieuwsbrief'}: Not a directory",
        "Fix: check that the folder exists or can be made, that you may write there and the disk is not full",
    ]
