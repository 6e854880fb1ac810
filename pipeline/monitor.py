"""Monitor: remind the partners that have not reported their progress for a period, once.

``newsletter monitor remind 2026`` mails one friendly reminder (Dutch) to the monitoring contact of
each partner whose pledge asks for a report and whose progress files do not cover the period, with a
pre-filled progress file attached. The order of a run, and why:

1. Take the period's lock: two runs at once could both mail a partner.
2. Reminders a killed run left 'sending' become 'unknown': the mail may have gone. They are
   reported, and sent again only with ``again`` (the coordinator's explicit word).
3. Work out who is due (``plan``): a partner reminded for the period before is skipped, with when;
   one whose reminder failed (it never went) is due again.
4. Per partner: record 'sending', send (SendGrid when ``SENDGRID_API_KEY`` is set, else one ``.eml``
   file in ``outbox/monitor-PERIOD/``), record 'sent' or 'failed'.

Only the monitoring contacts in ``sources.yaml`` ever get a reminder, never the subscriber list; no
address is printed, logged or kept in the state database (the record names the partner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.domain import i18n
from pipeline.domain.config import Config, Partner
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _
from pipeline.domain.models import ReminderState
from pipeline.domain.monitoring import Monitoring, Period, file_name, skeleton
from pipeline.infra.instance import read_monitoring
from pipeline.infra.locking import job_lock
from pipeline.infra.outbox import Outbox, messages
from pipeline.infra.sendgrid import Answer, SendGridAPI, mail_body
from pipeline.infra.store import Reminder, Store
from pipeline.infra.templating import environment, render_template

YAML = "application/yaml"  # RFC 9512
MAX_PROBLEMS = 10  # of a partner's broken file, quoted in its reminder

# What the plan says about each partner asked to report.
DUE = "due"
REPORTED = "reported"  # its progress files cover the period
REMINDED = "reminded"  # a reminder went before (skipped unless again)
UNKNOWN = "unknown"  # a reminder's answer was lost: it may have gone (skipped unless again)
NO_CONTACT = "no-contact"  # no monitoring_contact in sources.yaml: nobody to remind


@dataclass(frozen=True)
class Due:
    """One partner whose pledge asks for a report for the period, and what the run does about it."""

    partner: str
    name: str
    status: str
    asks_for: Period | None  # what is missing: the period, or one of its halves; None when reported
    previous: Reminder | None  # the last reminder for this period
    broken: tuple[str, ...]  # its progress files for that year with errors


@dataclass(frozen=True)
class Plan:
    period: Period
    destination: str  # "SendGrid (host)" or "outbox/monitor-2026/"
    partners: tuple[Due, ...]  # in the registry's order

    def with_status(self, status: str) -> list[Due]:
        return [d for d in self.partners if d.status == status]

    @property
    def due(self) -> list[Due]:
        return self.with_status(DUE)


@dataclass(frozen=True)
class Outcome:
    partner: str
    name: str
    state: str  # sent, failed, unknown
    reason: str | None = None
    where: str | None = None  # SendGrid's message id, or the outbox file


@dataclass(frozen=True)
class Result:
    plan: Plan
    outcomes: tuple[Outcome, ...]
    lost: int = 0  # reminders a killed run had left 'sending', now unknown

    def with_state(self, state: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == state]


def folder(period: Period) -> str:
    """The outbox folder of a period's reminders: ``monitor-2026``."""
    return f"monitor-{period}"


def plan(
    config: Config,
    store: Store,
    period: Period,
    *,
    again: bool = False,
    env: Mapping[str, str] | None = None,
    monitoring: Monitoring | None = None,
) -> Plan:
    """Who gets a reminder for ``period`` now, and why the others do not (nothing is sent)."""
    monitoring = monitoring if monitoring is not None else read_monitoring(config)
    api = SendGridAPI.from_env(config.settings.sendgrid.region, env)
    destination = f"SendGrid ({api.host})" if api else f"outbox/{folder(period)}/"
    before = store.reminders(str(period))
    out = []
    for p in config.partners.values():
        if p.pledge is None or not p.pledge.expects(period.last_day):
            continue
        asks_for = period.missing_from(monitoring.reported(p.id, period.year))
        previous = before.get(p.id)
        if asks_for is None:
            status = REPORTED
        elif p.monitoring_contact is None or not p.monitoring_contact.email:
            status = NO_CONTACT
        elif previous is not None and previous.state == ReminderState.SENT and not again:
            status = REMINDED
        elif (
            previous is not None
            and previous.state in (ReminderState.SENDING, ReminderState.UNKNOWN)
            and not again
        ):
            status = UNKNOWN
        else:
            status = DUE  # never reminded, or the last one failed (it never went), or again
        broken = tuple(b.path for b in monitoring.broken if b.partner == p.id and b.year == period.year)
        out.append(Due(p.id, p.name, status, asks_for, previous, broken))
    return Plan(period, destination, tuple(out))


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    attachment: str  # the file name
    content: bytes  # the pre-filled progress file


def message(config: Config, partner: Partner, asks_for: Period, problems: list[Problem]) -> Message:
    """The reminder for one partner: text and HTML in the instance's language (templates
    monitor/reminder.txt and .html, which an instance can override in templates/), and the progress
    file to fill in."""
    with i18n.using(config.settings.language):
        return _message(config, partner, asks_for, problems)


def _message(config: Config, partner: Partner, asks_for: Period, problems: list[Problem]) -> Message:
    path = file_name(partner.id, asks_for)
    contact = partner.monitoring_contact
    context = {
        "partner": partner,
        "contact_name": contact.name if contact else None,
        "period": asks_for,
        "pledge": partner.pledge,
        "since": i18n.date(partner.pledge.since, weekday=False)
        if partner.pledge and partner.pledge.since
        else None,
        "path": path,
        "filename": Path(path).name,
        "problems": problems[:MAX_PROBLEMS],
        "more_problems": max(len(problems) - MAX_PROBLEMS, 0),
        "broken": sorted({p.path for p in problems}),
        "settings": config.settings,
        # The progress form of the partner portal (newsletter serve), where the service has an address.
        "portal": f"{public}/partners/voortgang/{asks_for.year}"
        if (public := config.settings.signup.public_url)
        else None,
    }
    env = environment(config.root / "templates")
    return Message(
        subject=_("Reminder: your progress over {period} for Partners in beeld").format(
            period=asks_for.title
        ),
        text=render_template(env, "monitor/reminder.txt", config.root, **context),
        html=render_template(env, "monitor/reminder.html", config.root, **context),
        attachment=Path(path).name,
        content=skeleton(config, partner.id, asks_for).encode("utf-8"),
    )


def remind(
    config: Config,
    store: Store,
    period: Period,
    *,
    again: bool = False,
    env: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Result:
    """Send the reminders the plan says are due; every one recorded before and after it goes."""
    clock = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
    with job_lock(config.settings, "reminders", str(period)):
        lost = store.reminders_left_sending(str(period), clock())
        monitoring = read_monitoring(config)
        the_plan = plan(config, store, period, again=again, env=env, monitoring=monitoring)
        api = SendGridAPI.from_env(config.settings.sendgrid.region, env)
        outbox = Outbox(config.root / "outbox")
        outcomes = []
        for due in the_plan.due:
            partner = config.partners[due.partner]
            assert due.asks_for is not None and partner.monitoring_contact is not None
            problems = [p for p in monitoring.problems if p.path in due.broken and p.is_error]
            m = message(config, partner, due.asks_for, problems)
            s = config.settings
            contact = partner.monitoring_contact
            body = mail_body(
                from_email=s.from_email, from_name=s.from_name, reply_to=s.reply_to, subject=m.subject,
                text=m.text, html=m.html, recipients=[(contact.email or "", contact.name)],
                categories=["monitoring"], custom_args={"monitoring": str(period), "partner": partner.id},
                attachments=[(m.attachment, YAML, m.content)],
            )  # fmt: skip
            seq = store.start_reminder(str(period), partner.id, "sendgrid" if api else "outbox", clock())
            if api is None:  # the same request, written as the message it gives
                name = partner.id if seq == 1 else f"{partner.id}-{seq}"
                written = outbox.write(folder(period), name, messages(body)[0])
                where = f"outbox/{folder(period)}/{written.name}"
                store.finish_reminder(
                    str(period), partner.id, seq, ReminderState.SENT, clock(), message_id=where
                )
                outcomes.append(Outcome(partner.id, partner.name, "sent", where=where))
                continue
            answer = api.send(body)
            if answer.answer == Answer.ACCEPTED:
                state, reason = ReminderState.SENT, None
            elif answer.answer == Answer.UNKNOWN:
                state, reason = ReminderState.UNKNOWN, answer.reason
            else:  # refused, or never taken: it did not go, so the next run may try again
                state, reason = ReminderState.FAILED, answer.reason
            store.finish_reminder(
                str(period), partner.id, seq, state, clock(), message_id=answer.message_id, reason=reason
            )
            outcomes.append(Outcome(partner.id, partner.name, state, reason, answer.message_id))
    return Result(the_plan, tuple(outcomes), lost)
