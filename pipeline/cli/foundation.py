"""Commands that need no state: validate, init, demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli.base import EXIT_FAILED, Context, main, pass_ctx
from pipeline.core.i18n import _
from pipeline.core.plain import is_advice
from pipeline.core.validate import validate as run_validate


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (for CI); B1 advice never fails.")
@click.option("--now", "now_text", hidden=True, help="Take this time as now (tests, the demo's date).")
@pass_ctx
def validate(ctx: Context, paths: tuple[Path, ...], strict: bool, now_text: str | None) -> None:
    """Check sources.yaml, submissions and issue files.

    Every problem is printed as PATH:LINE: message, with the fix. With no PATH, checks
    sources.yaml, every submission and every issue file. A submission's title and summary
    also get plain-language (B1) advice: long sentences, long words, passive voice,
    stadhuistaal (see docs/plain-language.md); advice never changes the exit status.

    \b
    Examples:
      newsletter validate submissions/fietsplan.yaml
      newsletter validate
    """
    now = dt.datetime.now(dt.UTC)
    if now_text:  # without a zone: the instance's
        try:
            now = dt.datetime.fromisoformat(now_text.strip().replace(" ", "T", 1))
        except ValueError:
            example = "a date like 2026-12-10"
            raise click.BadParameter(f"'{now_text}' is not {example}", param_hint="--now") from None
    report = run_validate(ctx.root, list(paths) or None, now)
    for p in report.problems:
        click.echo(str(p), err=True)
    strict_fails = [p for p in report.warnings if not is_advice(p)] if strict else []
    failing = report.errors or strict_fails
    if failing:
        bad = {p.path for p in [*report.errors, *strict_fails]}
        click.echo(
            f"Error: {len(report.errors)} error(s), {len(report.warnings)} warning(s) "
            f"in {len(bad)} of {len(report.checked)} file(s).",
            err=True,
        )
        raise SystemExit(EXIT_FAILED)
    extra = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    if len(report.checked) == 1:
        click.echo(f"OK: {report.checked[0]} is valid{extra}.")
    else:
        click.echo(f"OK: {len(report.checked)} files are valid{extra}.")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new instance: settings, an example submission, issue and template folders.

    \b
    Example:
      newsletter init ~/nieuwsbrief && cd ~/nieuwsbrief && newsletter validate
    """
    from pipeline.core import instance

    written = instance.create(directory)
    click.echo(f"Created a new instance in {directory} ({len(written)} files).")
    click.echo("Next: edit sources.yaml (title, sender, postal address, partners), then run:")
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


def _kept_examples(text: str) -> str:
    """A translated help as click lays it out: a paragraph with indented lines (the examples) kept
    line by line (click's ``\\b``), so the catalog holds the text without the control character.
    (Branch tcli adds the same as ``pipeline.cli.base.helptext``: once merged, use that one.)"""
    paragraphs = text.strip("\n").split("\n\n")
    return "\n\n".join(
        "\b\n" + p if any(line.startswith("  ") for line in p.splitlines()) else p for p in paragraphs
    )


@main.command(
    help=_kept_examples(
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
