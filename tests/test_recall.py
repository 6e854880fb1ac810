"""Recall (`newsletter cancel`) and SendGrid's limits on cancels, against the stateful SendGrid fake.

Time is simulated (``SimTime``) in the sender and in the fake alike, so that "11 minutes before it
goes out" and "after it went out" are tested without waiting.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import newsletter, write_issue
from sendgrid_mock import API_KEY, MockProxy, SimTime
from test_deliver import write_subscribers

from pipeline import curate
from pipeline.deliver import NotRecallable, Report, open_transport, recall, send_list
from pipeline.domain.approval import deadline
from pipeline.domain.config import Config
from pipeline.domain.models import IssueState
from pipeline.infra.approval import approval_state
from pipeline.infra.instance import load_config, load_issue
from pipeline.infra.sendgrid import RetryPolicy
from pipeline.infra.store import Store
from pipeline.render import prepare

pytestmark = pytest.mark.mock


def setup(root: Path, proxy: MockProxy, subscribers: int = 1200) -> tuple[Config, SimTime]:
    write_subscribers(root, subscribers)
    write_issue(root)
    config = load_config(root)
    sim = SimTime()
    proxy.state.clock = sim.timestamp
    with Store(config.settings.state) as store:
        curate.approve(config, store, "2026-12", "Redactie", now=sim.now())
    return config, sim


def transport(config: Config, proxy: MockProxy):  # type: ignore[no-untyped-def]
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": proxy.url}
    return open_transport(config, env, policy=RetryPolicy(attempts=3, base=0.01, timeout=5, settle=1))


def send(config: Config, proxy: MockProxy, sim: SimTime) -> Report:
    issue = load_issue(config, "2026-12")
    with Store(config.settings.state) as store:
        prepared = None if store.sent_issue(issue.id) else prepare(config, store, issue)
        return send_list(
            config, store, issue, transport(config, proxy), prepared=prepared, clock=sim.now, sleep=sim.sleep
        )


def do_recall(config: Config, proxy: MockProxy, sim: SimTime):  # type: ignore[no-untyped-def]
    with Store(config.settings.state) as store:
        return recall(config, store, load_issue(config, "2026-12"), transport(config, proxy), clock=sim.now)


def test_recalled_in_time_nobody_gets_it_then_approved_again_everyone_once(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    config, sim = setup(demo_root, sendgrid)
    sent = send(config, sendgrid, sim)
    assert sent.completed and sent.send_at is not None and sent.deadline is not None
    with Store(config.settings.state) as store:
        assert (
            approval_state(config, store, load_issue(config, "2026-12"), now=sim.now())
            == IssueState.SCHEDULED
        )
    sim.t = (sent.deadline - dt.timedelta(minutes=1)).timestamp()  # 11 minutes before it goes out

    done = do_recall(config, sendgrid, sim)
    assert (done.recipients, done.batches, done.send_at) == (1200, 1, sent.send_at)
    assert sendgrid.received() == {}  # SendGrid discards the whole batch
    with Store(config.settings.state) as store:
        issue = load_issue(config, "2026-12")
        assert (
            store.sent_issue("2026-12") is None
            and approval_state(config, store, issue) == IssueState.RECALLED
        )
        assert [r.recipients for r in store.recalls("2026-12")] == [1200]
        with pytest.raises(Exception, match="was recalled, and is not approved again"):
            send_list(
                config, store, issue, transport(config, sendgrid), prepared=prepare(config, store, issue)
            )
        # The editor fixes it, approves it again, and sends it.
        sim.sleep(60)
        curate.approve(config, store, "2026-12", "Redactie", now=sim.now())
    again = send(config, sendgrid, sim)
    assert again.completed and again.counts["accepted"] == 1200
    received = sendgrid.received()
    assert len(received) == 1200 and set(received.values()) == {1}


def test_too_late_to_recall_changes_nothing(demo_root: Path, sendgrid: MockProxy) -> None:
    config, sim = setup(demo_root, sendgrid, subscribers=10)
    sent = send(config, sendgrid, sim)
    assert sent.send_at is not None and sent.deadline is not None
    sim.t = (sent.deadline + dt.timedelta(minutes=1)).timestamp()  # 9 minutes before it goes out
    tz = config.settings.timezone
    with pytest.raises(NotRecallable) as e:
        do_recall(config, sendgrid, sim)
    assert e.value.message == (
        f"too late: issue 2026-12 goes out at {sent.send_at.astimezone(tz):%H:%M} and SendGrid recalls mail no"
        f" later than 10 minutes before ({sent.deadline.astimezone(tz):%H:%M}); it is"
        f" {sim.now().astimezone(tz):%H:%M}"
    )
    sim.t = (sent.send_at + dt.timedelta(minutes=1)).timestamp()
    with pytest.raises(NotRecallable, match=r"went out at .*; it cannot be recalled"):
        do_recall(config, sendgrid, sim)
    assert [r for r in sendgrid.records if r.path.startswith("/v3/user/scheduled_sends")] == []
    assert len(sendgrid.received()) == 10
    with Store(config.settings.state) as store:
        assert store.sent_issue("2026-12") is not None and store.recalls("2026-12") == []


def test_a_repair_at_the_cancel_limit_stops_rather_than_risk_a_double_send(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    config, sim = setup(demo_root, sendgrid)
    for _ in range(10):  # the account's other cancels: SendGrid keeps at most 10
        other = sendgrid.state.new_batch()
        sendgrid.state.batches[other].status = "cancel"
    sendgrid.fault = lambda r: "drop" if r.path == "/v3/mail/send" and len(sendgrid.mail_sends) == 1 else None
    stopped = send(config, sendgrid, sim)
    assert (
        stopped.stopped is not None
        and "SendGrid holds 10 cancelled or paused batches already" in stopped.stopped
    )
    # Still in doubt, nothing resent: the dropped request's recipients (two requests are in flight at
    # once, so the dropped first arrival is the batch of 1,000 or the one of 200).
    [dropped] = [r for r in sendgrid.mail_sends if r.fault == "drop"]
    assert len(dropped.recipients) in (1000, 200)
    assert stopped.counts["in_flight"] == len(dropped.recipients) and not stopped.completed
    assert [r for r in sendgrid.records if r.method == "POST" and r.path == "/v3/user/scheduled_sends"] == []
    # Once there is room (an old cancel removed), the next run repairs it: everyone once.
    sendgrid.fault = None
    sendgrid.state.batches[other].removed_at = sim.t
    done = send(config, sendgrid, sim)
    assert done.completed and done.repaired == 1 and done.counts["unknown"] == 0
    received = sendgrid.received()
    assert len(received) == 1200 and set(received.values()) == {1}


def test_cancels_are_removed_only_after_their_send_time(demo_root: Path, sendgrid: MockProxy) -> None:
    config, sim = setup(demo_root, sendgrid)
    sendgrid.fault = lambda r: "drop" if r.path == "/v3/mail/send" and len(sendgrid.mail_sends) == 1 else None
    first = send(config, sendgrid, sim)
    assert first.repaired == 1
    deletes = lambda: [r for r in sendgrid.records if r.method == "DELETE"]  # noqa: E731
    (cancelled,) = sendgrid.state.held_statuses()
    assert deletes() == []  # the cancelled batch's send time has not come: its cancel stays
    with Store(config.settings.state) as store:
        (old, _new) = store.attempts("2026-12")
    sim.t = (old.send_at + dt.timedelta(minutes=2)).timestamp()
    send(config, sendgrid, sim)  # any later send (of any issue) clears what has passed
    assert [r.path for r in deletes()] == [f"/v3/user/scheduled_sends/{cancelled.id}"]
    assert sendgrid.state.held_statuses() == []
    received = sendgrid.received()
    assert len(received) == 1200 and set(received.values()) == {1}


def test_cancel_in_the_outbox_moves_the_files_aside(demo_root: Path) -> None:
    write_subscribers(demo_root, 3)
    write_issue(demo_root)
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie").returncode == 0
    sent = newsletter(demo_root, "send", "2026-12")
    assert sent.returncode == 0, sent.stderr
    assert "Goes out at " in sent.stdout and "'newsletter cancel 2026-12' recalls it." in sent.stdout
    outbox = demo_root / "outbox" / "2026-12"
    assert len(list(outbox.glob("*.eml"))) == 3
    status = newsletter(demo_root, "status")
    assert "scheduled at SendGrid" in status.stdout and "recall until" in status.stdout

    cancelled = newsletter(demo_root, "cancel", "2026-12")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith("Recalled issue 2026-12: 1 batch cancelled at outbox/, so the 3")
    assert list(outbox.glob("*.eml")) == [] and len(list(outbox.glob("cancelled/*/*.eml"))) == 3
    assert "status: recalled" in (demo_root / "issues" / "2026-12.yaml").read_text(encoding="utf-8")
    status = newsletter(demo_root, "status")
    assert "recalled" in status.stdout and "approve again to send it" in status.stdout
    refused = newsletter(demo_root, "send", "2026-12")
    assert refused.returncode == 1 and "was recalled, and is not approved again" in refused.stderr
    again = newsletter(demo_root, "cancel", "2026-12")
    assert again.returncode == 1 and "there is nothing to recall" in again.stderr

    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie").returncode == 0
    assert newsletter(demo_root, "send", "2026-12").returncode == 0
    assert len(list(outbox.glob("*.eml"))) == 3  # sent again, once each


def test_the_recall_deadline_is_ten_real_minutes_before_the_send_on_the_nights_the_clocks_change() -> None:
    ams = ZoneInfo("Europe/Amsterdam")
    # 28 March 2027: 02:00 becomes 03:00. 03:05 summer time is 01:05 UTC; ten minutes before is 00:55 UTC
    # (counted on the wall clock, 02:55 does not exist and was read as 01:55 UTC: after the send).
    assert deadline(dt.datetime(2027, 3, 28, 3, 5, tzinfo=ams)) == dt.datetime(
        2027, 3, 28, 0, 55, tzinfo=dt.UTC
    )
    # 31 October 2027: 03:00 becomes 02:00. The second 02:05 (winter time) is 01:05 UTC.
    second = dt.datetime(2027, 10, 31, 2, 5, fold=1, tzinfo=ams)
    assert deadline(second) == dt.datetime(2027, 10, 31, 0, 55, tzinfo=dt.UTC)
