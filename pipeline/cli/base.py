"""What every command shares: the group, ``--root``, loading the config, turning errors into exit codes."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pipeline import __version__
from pipeline.domain import i18n
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, PipelineError
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.infra.files import WRITE_FIX
from pipeline.infra.instance import load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def helptext(text: str) -> str:
    """A command's help (translated) as click lays it out: a paragraph with indented lines (the
    examples) is kept line by line (click's ``\\b``), the others are wrapped to the terminal. The
    catalog holds the text without the control character, so a translator never has to type it."""
    paragraphs = text.strip("\n").split("\n\n")
    return "\n\n".join(
        "\b\n" + p if any(line.startswith("  ") for line in p.splitlines()) else p for p in paragraphs
    )


def out_option(help: str) -> Callable[..., Any]:
    """``--out FOLDER``: where a command writes its files; ``None`` when not given (the command's default)."""
    return click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help=help)


def count_errors(n: int) -> str:
    """'1 error', '3 errors': a count inside a sentence that counts more than one thing."""
    return ngettext("{n} error", "{n} errors", n).format(n=n)


def count_warnings(n: int) -> str:
    return ngettext("{n} warning", "{n} warnings", n).format(n=n)


# A log line of the library (cron's 'run', a send) on the terminal, by its level.
LOG_LINES = {"warning": N_("warning: {message}"), "error": N_("error: {message}")}


def log_line(level: str, message: str) -> str:
    return _(LOG_LINES[level]).format(message=message) if level in LOG_LINES else f"{level}: {message}"


def _translate_click() -> None:
    """Click's own words ("Usage:", "Options:", its errors) through our catalogs: each of its modules
    took ``gettext`` from the standard library, which knows nothing of the chosen language."""
    for module in (
        "core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils",
        "shell_completion", "_termui_impl",
    ):  # fmt: skip
        loaded = sys.modules.get(f"click.{module}") or importlib.import_module(f"click.{module}")
        if hasattr(loaded, "_"):
            loaded._ = i18n.gettext  # type: ignore[attr-defined]
        if hasattr(loaded, "ngettext"):
            loaded.ngettext = i18n.ngettext  # type: ignore[attr-defined]


_translate_click()


@dataclass
class Context:
    root: Path
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """sources.yaml, loaded and checked once per command."""
        if self._config is None:
            self._config = load_config(self.root)
            if not i18n.supported(os.environ.get(i18n.ENV)):  # the terminal's choice wins
                i18n.set_language(self._config.settings.language)
        return self._config

    def now(self, now_text: str | None) -> dt.datetime:
        """The command's now: --now's time (in the instance's zone unless it has one), else the clock's."""
        return now_or_today(now_text, self.config.settings.timezone)

    def since(self, value: str | None) -> dt.datetime | None:
        """--since DATE (in the instance's zone); None when not given."""
        if not value:
            return None
        return parse_when(value, self.config.settings.timezone, "--since", _("a date like 2026-11-01"))


def parse_when(value: str, tz: dt.tzinfo | None, option: str, example: str) -> dt.datetime:
    """A date, or a date and time, typed on the command line; without a zone, ``tz`` (the instance's);
    with ``tz`` None, a time without a zone stays without one."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise click.BadParameter(
            _("'{value}' is not {example}").format(value=value, example=example), param_hint=option
        ) from None
    return parsed if parsed.tzinfo or tz is None else parsed.replace(tzinfo=tz)


# A hidden --now for the commands whose result depends on the date (ages, ranking, warnings): the
# tests and the demo run them on a fixed day.
now_option = click.option(
    "--now", "now_text", hidden=True, help=_("Take this time as now (tests, the demo's date).")
)


def now_or_today(now_text: str | None, tz: dt.tzinfo) -> dt.datetime:
    """--now's time (the instance's zone unless it has one), else the clock's."""
    if not now_text:
        return dt.datetime.now(dt.UTC)
    return parse_when(now_text, tz, "--now", _("a date and time like 2026-12-10T09:00"))


def print_problems(err: InputInvalid) -> None:
    for p in err.problems:
        click.echo(str(p), err=True)


# Every command and the module that defines it. A command's module is imported only when that
# command runs (or --help lists them all), so that 'newsletter validate' does not pay for Jinja,
# MJML, httpx or SendGrid: start-up is most of a small command's time.
COMMANDS = {
    "validate": "foundation", "init": "foundation", "demo": "foundation",
    "collect": "collect", "items": "collect",
    "draft": "curate", "check": "curate", "approve": "curate", "status": "curate",
    "render": "render", "send": "deliver", "cancel": "deliver", "run": "run", "publish": "publish",
    "report": "report", "monitor": "monitor", "studio": "studio", "serve": "audience",
    "subscribers": "audience", "db": "db",
}  # fmt: skip


class Group(click.Group):
    """Loads each command's module on first use, and turns the library's errors into one
    ``Error: ...`` line (no traceback) and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(f"pipeline.cli.{COMMANDS[name]}")  # its @main.command registers it
        return self.commands.get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputInvalid as e:
            print_problems(e)
            errors = sum(p.is_error for p in e.problems)
            click.echo(
                ngettext(
                    "Error: {n} problem; nothing was changed.",
                    "Error: {n} problems; nothing was changed.",
                    errors,
                ).format(n=errors),
                err=True,
            )
            ctx.exit(EXIT_FAILED)
        except PipelineError as e:
            click.echo(_("Error: {message}").format(message=e.message), err=True)
            if e.hint:
                click.echo(_("Fix: {hint}").format(hint=e.hint), err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo(_("Interrupted."), err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # `newsletter items | head`: the reader went away, which is fine.
            sys.stderr.close()
            ctx.exit(EXIT_OK)
        except OSError as e:
            # The last net for a folder the library creates outside atomic_write (init, the
            # outbox, report --out): the file and the reason, not a traceback.
            where = f"{e.filename}: " if e.filename else ""
            click.echo(_("Error: {message}").format(message=f"{where}{e.strerror or e}"), err=True)
            click.echo(_("Fix: {hint}").format(hint=_(WRITE_FIX)), err=True)
            ctx.exit(EXIT_FAILED)


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=helptext(
        _("""Collect partner stories, curate them into an issue, render and send the newsletter.

A typical month:
  newsletter collect                 # fetch feeds and submissions
  newsletter draft 2026-12           # write issues/2026-12.yaml, then edit it
  newsletter check 2026-12
  newsletter render 2026-12          # open build/2026-12/email.html
  newsletter approve 2026-12 --by "Naam"
  newsletter run                     # from cron: sends when send_at has come""")
    ),
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=_("The instance folder (holds sources.yaml). Default: $NEWSLETTER_ROOT, else the current folder."),
)
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """The group every command belongs to: ``--root`` (its help is translated, above)."""
    if root is None:
        root = Path(os.environ.get("NEWSLETTER_ROOT") or ".")
    ctx.obj = Context(root=root.resolve())


pass_ctx = click.make_pass_decorator(Context)
