"""Commands that need no state: validate, init, demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli.base import (
    EXIT_FAILED,
    Context,
    count_errors,
    count_warnings,
    helptext,
    main,
    now_option,
    parse_when,
    pass_ctx,
)
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.plain import is_advice
from pipeline.infra.validate import validate as run_validate


@main.command(
    help=helptext(
        _("""Check sources.yaml, submissions and issue files.

Every problem is printed as PATH:LINE: message, with the fix. With no PATH, checks
sources.yaml, every submission and every issue file. A submission's title and summary
also get plain-language (B1) advice: long sentences, long words, passive voice,
stadhuistaal (see docs/plain-language.md); advice never changes the exit status.

Examples:
  newsletter validate submissions/fietsplan.yaml
  newsletter validate""")
    )
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help=_("Treat warnings as errors (for CI); B1 advice never fails."))
@now_option
@pass_ctx
def validate(ctx: Context, paths: tuple[Path, ...], strict: bool, now_text: str | None) -> None:
    """Check sources.yaml, submissions and issue files (the help is above, translated)."""
    now = dt.datetime.now(dt.UTC)
    if now_text:  # without a zone: the instance's, as the submission check reads it
        now = parse_when(now_text, None, "--now", _("a date like 2026-12-10"))
    report = run_validate(ctx.root, list(paths) or None, now)
    for p in report.problems:
        click.echo(str(p), err=True)
    strict_fails = [p for p in report.warnings if not is_advice(p)] if strict else []
    failing = report.errors or strict_fails
    if failing:
        bad = {p.path for p in [*report.errors, *strict_fails]}
        click.echo(
            _("Error: {errors}, {warnings} in {bad} of {files}.").format(
                errors=count_errors(len(report.errors)),
                warnings=count_warnings(len(report.warnings)),
                bad=len(bad),
                files=ngettext("{n} file", "{n} files", len(report.checked)).format(n=len(report.checked)),
            ),
            err=True,
        )
        raise SystemExit(EXIT_FAILED)
    warnings = len(report.warnings)
    if len(report.checked) == 1:
        if warnings:
            line = ngettext(
                "OK: {path} is valid, {n} warning.", "OK: {path} is valid, {n} warnings.", warnings
            ).format(path=report.checked[0], n=warnings)
        else:
            line = _("OK: {path} is valid.").format(path=report.checked[0])
    elif warnings:
        line = _("OK: {files} are valid, {warnings}.").format(
            files=ngettext("{n} file", "{n} files", len(report.checked)).format(n=len(report.checked)),
            warnings=count_warnings(warnings),
        )
    else:
        line = ngettext("OK: {n} file is valid.", "OK: {n} files are valid.", len(report.checked)).format(
            n=len(report.checked)
        )
    click.echo(line)


@main.command(
    help=helptext(
        _("""Create a new instance: settings, an example submission, issue and template folders.

Example:
  newsletter init ~/nieuwsbrief && cd ~/nieuwsbrief && newsletter validate""")
    )
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new instance (the help is above, translated)."""
    from pipeline.infra import instance

    written = instance.create(directory)
    n = len(written)
    created = ngettext(
        "Created a new instance in {folder} ({n} file).", "Created a new instance in {folder} ({n} files).", n
    )
    click.echo(created.format(folder=directory, n=n))
    click.echo(_("Next: edit sources.yaml (title, sender, postal address, partners), then run:"))
    click.echo(f"  newsletter --root {directory} validate")


DEMO_FOLDER = Path("nieuwsbrief-demo")  # in the current folder, when DIR is left out


def _program() -> str:
    """How the person at the terminal runs this program again, from another folder: 'newsletter'
    when that is the one on PATH, else the full path of the script (e.g. .venv/bin/newsletter)."""
    import shlex
    import shutil
    import sys

    script = Path(sys.argv[0])
    if script.name != "newsletter":  # python -m pipeline
        return f"{shlex.quote(sys.executable)} -m pipeline"
    found = shutil.which("newsletter")
    if found and Path(found).absolute() == script.absolute():
        return "newsletter"
    return shlex.quote(str(script.absolute()))


@main.command(
    help=helptext(
        _("""Run the whole flow on the bundled demo instance, offline, in DIR.

Copies the bundled demo instance (pipeline/demo_instance/) into DIR and runs every stage on
it, one line each. DIR is ./nieuwsbrief-demo when left out. DIR must be new, empty, or hold an
earlier demo: that one is started over (its issues, state, build and outbox are made anew).
Any other folder with files in it is refused. Ends with the line to continue there.

Examples:
  newsletter demo
  newsletter demo /tmp/nieuwsbrief-demo""")
    )
)
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=_("The same as DIR (kept for scripts that use it)."),
)
def demo(directory: Path | None, into: Path | None) -> None:
    """Run the whole flow on the bundled demo instance (the help is above, translated)."""
    import shlex

    from pipeline import demo as demo_mod  # every stage: imported only for the demo

    if directory is not None and into is not None and directory != into:
        raise click.UsageError(_("give the folder once: as DIR or as --into, not both"))
    folder = directory or into or DEMO_FOLDER
    result = demo_mod.run(folder, echo=click.echo)
    if result.files:
        click.echo(_("Open these:"))
        for label, path in result.files:
            click.echo(f"  {_(label):<20} {path}")
    if not result.ok:
        raise SystemExit(EXIT_FAILED)
    click.echo(_("Next: the editors' studio on this demo (the README's commands work in its folder too):"))
    click.echo(f"cd {shlex.quote(str(folder))} && {_program()} studio {demo_mod.ISSUE}")
