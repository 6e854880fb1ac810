"""Commands that need no state: validate, init, demo."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.base import EXIT_FAILED, Context, count_errors, count_warnings, helptext, main, pass_ctx
from pipeline.core.i18n import _, ngettext
from pipeline.core.plain import is_advice
from pipeline.core.validate import validate as run_validate


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
@pass_ctx
def validate(ctx: Context, paths: tuple[Path, ...], strict: bool) -> None:
    """Check sources.yaml, submissions and issue files (the help is above, translated)."""
    report = run_validate(ctx.root, list(paths) or None)
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
    from pipeline.core import instance

    written = instance.create(directory)
    n = len(written)
    created = ngettext(
        "Created a new instance in {folder} ({n} file).", "Created a new instance in {folder} ({n} files).", n
    )
    click.echo(created.format(folder=directory, n=n))
    click.echo(_("Next: edit sources.yaml (title, sender, postal address, partners), then run:"))
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
