"""Approval and status: ``approve`` binds the approval to the exact content to be sent; ``statuses``
says where every issue stands."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pipeline.curate.check import check_issue
from pipeline.curate.draft import local_time
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, PipelineError, display_path
from pipeline.domain.i18n import _
from pipeline.domain.issues import Approval, issue_path
from pipeline.domain.models import DeliveryState, IssueState
from pipeline.infra.approval import approval_state, fingerprint, issue_items
from pipeline.infra.instance import check_issue_file, write_program_fields
from pipeline.infra.store import Store


class ApprovalRefused(PipelineError):
    "The issue cannot be approved: no name was given, or it is being sent, is scheduled or was sent."


# -- approval -------------------------------------------------------------------------------------
APPROVER_MAX = 100  # characters of the name recorded in the file


def approve(config: Config, store: Store, issue_id: str, by: str, now: dt.datetime | None = None) -> Approval:
    """Record who approved the issue, when, and the fingerprint of its content (``status: approved``
    and ``approval`` in the file). Refused (``ApprovalRefused``) without a name, or when the issue is
    being sent, scheduled or sent; ``InputInvalid`` when ``check_issue`` reports errors."""
    by = " ".join(by.split())
    if not by:
        raise ApprovalRefused(
            _("an approval needs a name"),
            _("run 'newsletter approve {issue} --by \"Name\"'").format(issue=issue_id),
        )
    if len(by) > APPROVER_MAX or re.search("[\x00-\x1f\x7f-\x9f]", by):
        raise ApprovalRefused(
            _("an approver's name is at most {n} characters, without control characters").format(
                n=APPROVER_MAX
            ),
            _('give your name as you would sign it, e.g. --by "Anna de Vries"'),
        )
    issue, problems = check_issue(config, store, issue_id)
    errors = [p for p in problems if p.is_error]
    if issue is None or errors:
        raise InputInvalid(problems)
    fp = fingerprint(config, issue, issue_items(store, issue))
    state = approval_state(config, store, issue, fp)
    if state in (IssueState.SENDING, IssueState.SCHEDULED, IssueState.SENT):
        doing = {
            IssueState.SENDING: _("issue {issue} is being sent; approving it changes nothing"),
            IssueState.SCHEDULED: _("issue {issue} is scheduled at SendGrid; approving it changes nothing"),
        }
        raise ApprovalRefused(
            doing.get(state, _("issue {issue} was sent; approving it changes nothing")).format(
                issue=issue_id
            ),
            _(
                "run 'newsletter status' to see where it stands (a scheduled "
                "issue: 'newsletter cancel' first)"
            ),
        )
    at = local_time(config, now or dt.datetime.now(dt.UTC))
    path = issue_path(config.root, issue_id)
    approval = {"by": by, "at": at, "fingerprint": fp}
    write_program_fields(path, display_path(path, config.root), status="approved", approval=approval)
    return Approval(by, at, fp)


# -- status ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueStatus:
    id: str
    state: str  # an IssueState, or "invalid" (the file has errors)
    send_at: dt.datetime | None = None  # send_at from the file; once sent without one, when it started
    approval: Approval | None = None
    counts: dict[DeliveryState, int] | None = None  # the delivery ledger, once sending started
    problem: str | None = None  # the first error of an invalid file


def statuses(config: Config, store: Store) -> list[IssueStatus]:
    """Every issue in issues/ or in the database, by id."""
    folder = config.root / "issues"
    files = {p.stem: p for p in folder.glob("*.yaml")} if folder.is_dir() else {}
    sent = {r.id: r for r in store.sent_issues()}
    out = []
    for issue_id in sorted(set(files) | set(sent)):
        counts = store.delivery_counts(issue_id) if issue_id in sent else None
        if issue_id not in files:
            state = IssueState.SENT if sent[issue_id].completed else IssueState.SENDING
            out.append(IssueStatus(issue_id, state, sent[issue_id].sent_at, counts=counts))
            continue
        issue, problems = check_issue_file(
            files[issue_id], config, display_path(files[issue_id], config.root)
        )
        if issue is None:
            first = next((p for p in problems if p.is_error), None)
            out.append(IssueStatus(issue_id, "invalid", problem=str(first) if first else None))
            continue
        state = approval_state(config, store, issue)
        when = issue.send_at
        if issue_id in sent:  # when it goes (or went) out
            when = sent[issue_id].sent_at
        out.append(IssueStatus(issue_id, state, when, issue.approval, counts))
    return out
