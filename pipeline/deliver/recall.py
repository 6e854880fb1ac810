"""``newsletter cancel``: recall an issue SendGrid holds, before its deadline."""

from __future__ import annotations

from pipeline.deliver.cancels import cancel_attempt
from pipeline.deliver.model import CANCEL_SAFETY, Clock, NotRecallable, RecallReport, deadline, utc_now
from pipeline.deliver.transport import Transport
from pipeline.domain.config import Config
from pipeline.domain.i18n import _
from pipeline.domain.issues import Issue
from pipeline.domain.models import AttemptState, DeliveryState
from pipeline.infra.store import Store


def recall(
    config: Config, store: Store, issue: Issue, transport: Transport, *, clock: Clock = utc_now
) -> RecallReport:
    """``newsletter cancel``: cancel every batch SendGrid holds for ``issue`` and confirm each, so that
    nobody gets it; the send is forgotten, the recall kept on record, and the approval no longer holds.

    Call it holding ``send_lock``. Changes nothing and raises ``NotRecallable`` when the issue was
    not handed over, went out, or is past SendGrid's deadline (10 minutes before it goes out).
    """
    now = clock()
    sent = store.sent_issue(issue.id)
    held = [a for a in store.attempts(issue.id) if a.state in (AttemptState.OPEN, AttemptState.CANCELLING)]
    if sent is None or not held:
        raise NotRecallable(
            _("issue {issue} was not handed to {destination}; there is nothing to recall").format(
                issue=issue.id, destination=transport.destination
            ),
            _("run 'newsletter status' to see where it stands"),
        )
    first = min(a.send_at for a in held)
    tz = config.settings.timezone
    if first <= now:
        raise NotRecallable(
            _("issue {issue} went out at {when}; it cannot be recalled").format(
                issue=issue.id, when=f"{first.astimezone(tz):%Y-%m-%d %H:%M %Z}"
            ),
            _("send a correction in the next issue, or a short follow-up mail"),
        )
    if now >= deadline(first) - CANCEL_SAFETY:
        raise NotRecallable(
            _(
                "too late: issue {issue} goes out at {when} and SendGrid "
                "recalls mail no later than 10 minutes "
                "before ({until}); it is {now}"
            ).format(
                issue=issue.id,
                when=f"{first.astimezone(tz):%H:%M}",
                until=f"{deadline(first).astimezone(tz):%H:%M}",
                now=f"{now.astimezone(tz):%H:%M}",
            ),
            _("nothing was changed; send a correction in the next issue if needed"),
        )
    recipients = store.delivery_counts(issue.id)[DeliveryState.ACCEPTED]
    for attempt in held:
        cancel_attempt(store, transport, attempt, _("recalled by the editors"), clock)
    store.recall(issue.id, clock(), recipients)
    return RecallReport(issue.id, transport.destination, recipients, first, len(held))
