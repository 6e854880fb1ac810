"""Telling the editors: the delivery report mail."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.deliver.model import REPORTED, Report, SendStopped
from pipeline.domain import i18n
from pipeline.domain.config import Config
from pipeline.domain.i18n import N_, _
from pipeline.domain.models import DeliveryState
from pipeline.infra.sendgrid import mail_body, send_or_raise
from pipeline.infra.templating import environment, render_template

# -- telling the editors ----------------------------------------------------------------------------
# The ledger's states as the editors' report names them, in REPORTED's order (translated where used).
STATE_LABELS = {
    DeliveryState.ACCEPTED: N_("sent"),
    DeliveryState.SKIPPED: N_("skipped"),
    DeliveryState.FAILED: N_("failed"),
    DeliveryState.UNKNOWN: N_("unknown"),
    DeliveryState.PENDING: N_("not sent yet"),
}


def report_mail(config: Config, report: Report) -> tuple[str, str, str]:
    """The delivery report for the editors, in the instance's language (``newsletter.language``):
    (subject, text, HTML), from the templates ``deliver/report.txt`` and ``deliver/report.html``.
    Counts, times and request numbers, never an address."""
    s = config.settings
    tz = s.timezone
    with i18n.using(s.language):
        context = {
            "issue_id": report.issue_id,
            "destination": report.destination,
            "rows": [(_(STATE_LABELS[state]), report.counts[state]) for state in REPORTED],
            "goes_out": i18n.datetime(report.send_at.astimezone(tz)) if report.send_at else None,
            "until": i18n.time(report.deadline.astimezone(tz)) if report.deadline else None,
            "unknown": [str(b) for b in report.unknown_batches],
            "stopped": report.stopped,
            "settings": s,
        }
        env = environment(config.root / "templates")
        text = render_template(env, "deliver/report.txt", config.root, **context)
        page = render_template(env, "deliver/report.html", config.root, **context)
        subject = _("Delivery report {issue}: {n} sent").format(
            issue=report.issue_id, n=report.counts[DeliveryState.ACCEPTED]
        )
    return subject, text, page


def notify_editors(config: Config, report: Report, env: Mapping[str, str] | None = None) -> None:
    """Mail the delivery report to the editors (``newsletter.editors``), through SendGrid or the outbox."""
    editors = [e.lower() for e in config.settings.editors]
    if not editors:
        return
    env = os.environ if env is None else env
    s = config.settings
    subject, text, page = report_mail(config, report)
    body = mail_body(
        from_email=s.from_email, from_name=s.from_name, reply_to=None, subject=subject, text=text,
        html=page, recipients=[(e, None) for e in editors],
        categories=["delivery-report"], custom_args={"issue": report.issue_id},
    )  # fmt: skip
    name = f"report-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    refused = _("the delivery report was not accepted: {reason}"), _("see the counts above")
    folder = Path(report.issue_id, "report")
    send_or_raise(body, s.sendgrid.region, env, config.root / "outbox", folder, name, refused, SendStopped)
