"""`newsletter run`: the cron entry point. Quiet when all is well but for one summary line."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from pipeline.cli.base import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    Context,
    helptext,
    log_line,
    main,
    parse_when,
    pass_ctx,
)
from pipeline.domain.i18n import _
from pipeline.infra.locking import Busy
from pipeline.run import run as run_pipeline


@main.command(
    "run",
    help=helptext(
        _("""The cron entry point: collect, then send every approved issue whose send_at has come.

Finishes any send that an earlier run left half-done. A draft, or an issue changed since it
was approved, is never sent; the log says why. A second run while one is busy exits at once
(status 0). Exit status 1 when a send failed, 3 when only some sources failed.

Examples:
  newsletter run                                  # from cron, every 15 minutes
  newsletter run --now "2026-12-10 09:00"         # what would happen then
  newsletter run --log-json                       # for a log collector""")
    ),
)
@click.option(
    "--now",
    "now_text",
    metavar="TIME",
    help=_("Pretend it is TIME (instance time zone unless it has an offset), to test schedules."),
)
@click.option("--log-json", is_flag=True, help=_("Write every event as one JSON object per line (stderr)."))
@pass_ctx
def run_command(ctx: Context, now_text: str | None, log_json: bool) -> None:
    """The cron entry point: collect, then send every approved issue whose send_at has come."""
    config = ctx.config
    tz = config.settings.timezone
    example = _("a date and time like 2026-12-10T09:00 or 2026-12-10T09:00+01:00")
    now = parse_when(now_text, tz, "--now", example) if now_text else dt.datetime.now(tz)

    def log(level: str, event: str, message: str, fields: Mapping[str, Any]) -> None:
        if log_json:
            record = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "level": level,
                "event": event,
                "message": message,
                **fields,
            }
            click.echo(json.dumps(record, ensure_ascii=False), err=True)
        elif level in ("warning", "error"):
            click.echo(log_line(level, message), err=True)

    try:
        result = run_pipeline(config, now=now, env=os.environ, log=log)
    except Busy as e:
        log("info", "busy", e.message, {})
        if not log_json:
            click.echo(
                _("{reason}; this run does nothing.").format(reason=f"{e.message[0].upper()}{e.message[1:]}")
            )
        raise SystemExit(EXIT_OK) from None
    if log_json:
        log("info", "summary", result.line(), {"failed": len(result.failed), "partial": result.partial})
    else:
        click.echo(result.line())
    sys.stdout.flush()
    if result.failed:
        raise SystemExit(EXIT_FAILED)
    if result.partial:
        raise SystemExit(EXIT_PARTIAL)
