"""Deliver: send an issue to every subscriber exactly once, recall it, or send a test copy.

A list send is never sent "at once". Every send attempt is one SendGrid batch (``batch_id``) whose
mail SendGrid holds until a ``send_at`` at least the hold time ahead (``newsletter.delivery``,
30 minutes by default) or the issue's own send_at when that is later. Until 10 minutes before that
moment, cancelling the batch discards all of its mail; that is what repairs a kill and what
``newsletter cancel`` (recall) does. The order of a list send, and why:

1. Take the issue's send lock (``pipeline.infra.locking``): two senders could each claim the same
   subscribers. A killed sender leaves no lock behind.
2. Settle what an earlier run left in doubt: a request whose answer was lost (the process was
   killed, or the request timed out) may or may not have reached SendGrid. While its attempt can
   still be cancelled, the attempt is cancelled and confirmed, and everyone in it (the accepted
   ones too, their mail is discarded with the batch) is pending again for a new attempt. Only when
   the cancel window has passed do they stay "unknown", reported and never resent silently.
3. Read the subscriber list and SendGrid's suppressions and bring the ledger in line: new
   subscribers pending, suppressed ones skipped with the reason. On the first run this happens in
   the same transaction that keeps the exact content sent (``record_sent_issue``).
4. An attempt is recorded (batch id, send_at) before its first request. Per request of at most
   1000: commit "in flight", make the request, commit the outcome; nothing is "accepted" unless
   SendGrid answered 202. A lost answer leaves the request in doubt and the send goes on.
5. When nobody is pending and the attempt holds a request in doubt, the process waits until that
   request can no longer be on its way to SendGrid, then cancels the attempt (one cancel, however
   many requests were in doubt) and sends its subscribers again in a new attempt.
6. When nobody is pending, in doubt or failed, the issue is handed over ("scheduled"); it goes out
   at send_at, and cancels whose send_at has passed are removed at SendGrid, never earlier (a cancel
   deleted early sends the batch after all).

SendGrid does not document whether a cancel also catches a request that reaches it after the
cancel. Step 5 never relies on it: it cancels only after every request of the batch has arrived
or can no longer arrive.

Without ``SENDGRID_API_KEY`` the same steps write ``.eml`` files to ``outbox/ISSUE/``, and a
cancelled attempt's files are moved aside to ``outbox/ISSUE/cancelled/BATCH/``.

The modules: ``model`` (the errors, SendGrid's time limits and the reports), ``transport`` (SendGrid
or the outbox), ``send`` (the list send, its plan and the test send), ``cancels`` (cancelling an
attempt, settling requests in doubt), ``recall`` (``newsletter cancel``) and ``notify`` (the
editors' delivery report).
"""

from pipeline.deliver.cancels import clear_old_cancels
from pipeline.deliver.model import (
    CANCEL_SAFETY,
    Clock,
    ListCheck,
    NotApproved,
    Notice,
    NotRecallable,
    Plan,
    Progress,
    RecallReport,
    Report,
    SendStopped,
    TestReport,
    utc_now,
)
from pipeline.deliver.notify import notify_editors, report_mail
from pipeline.deliver.recall import recall
from pipeline.deliver.send import BATCH, plan, refusal, schedule, send_list, send_lock, send_test
from pipeline.deliver.transport import OutboxTransport, SendGridTransport, Transport, open_transport
from pipeline.domain.approval import CANCEL_LIMIT, deadline
from pipeline.infra.outbox import Outbox

__all__ = [
    "BATCH",
    "CANCEL_LIMIT",
    "CANCEL_SAFETY",
    "Clock",
    "ListCheck",
    "NotApproved",
    "NotRecallable",
    "Notice",
    "Outbox",
    "OutboxTransport",
    "Plan",
    "Progress",
    "RecallReport",
    "Report",
    "SendGridTransport",
    "SendStopped",
    "TestReport",
    "Transport",
    "clear_old_cancels",
    "deadline",
    "notify_editors",
    "open_transport",
    "plan",
    "recall",
    "refusal",
    "report_mail",
    "schedule",
    "send_list",
    "send_lock",
    "send_test",
    "utc_now",
]
