"""Commands that need no state: validate, init, demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli.base import EXIT_FAILED, Context, main, pass_ctx
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


@main.command()
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to run the demo in (must not exist yet). Default: a new temporary folder.",
)
def demo(into: Path | None) -> None:
    """Run the whole flow on the bundled demo instance, offline, in a fresh folder.

    Copies the bundled demo instance (pipeline/demo_instance/) and runs every stage on it;
    ends by listing the files to open.

    \b
    Example:
      newsletter demo --into /tmp/nieuwsbrief-demo
    """
    from pipeline import demo as demo_mod  # every stage: imported only for the demo

    result = demo_mod.run(into, echo=click.echo)
    click.echo("")
    click.echo(f"Demo instance: {result.root}")
    if result.files:
        click.echo("Open these:")
        for label, path in result.files:
            click.echo(f"  {label:<22} {path}")
    if not result.ok:
        raise SystemExit(EXIT_FAILED)
