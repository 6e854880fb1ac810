"""Deliver against Prism on SendGrid's own spec, through the recording, fault-injecting proxy."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.register_assert_rewrite("sendgrid_mock")  # before the import below, so its asserts explain

from conftest import approved, list_send, newsletter, write_issue  # noqa: E402
from sendgrid_mock import API_KEY, MockProxy, Recorded, SimTime, free_port  # noqa: E402
from test_deliver import rendered, write_subscribers  # noqa: E402

from pipeline.deliver import Report, open_transport, plan  # noqa: E402
from pipeline.domain.config import Config  # noqa: E402
from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.sendgrid import (  # noqa: E402
    HostInvalid,
    KeyInvalid,
    RetryPolicy,
    SendGridAPI,
    SendGridError,
    mail_body,
)
from pipeline.infra.store import Store  # noqa: E402

pytestmark = pytest.mark.mock


class Waits:
    """Records the waits instead of sleeping: the retry tests check them and stay fast."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def env_for(proxy: MockProxy) -> dict[str, str]:
    return {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": proxy.url}


def send(
    config: Config,
    proxy: MockProxy,
    waits: Waits | None = None,
    policy: RetryPolicy | None = None,
    **kw: object,
) -> Report:
    policy = policy or RetryPolicy(attempts=4, base=0.01, timeout=5)
    transport = open_transport(config, env_for(proxy), policy=policy, sleep=waits or Waits())
    with Store(config.settings.state) as store:
        return list_send(config, store, rendered(), transport, placements=[("partners", "x")], **kw)  # type: ignore[no-any-return]


def times_accepted(proxy: MockProxy) -> Counter[str]:
    return Counter(a for r in proxy.accepted_by_prism() for a in r.recipients)


def test_list_send_is_valid_one_recipient_each_and_skips_suppressions(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    config = load_config(demo_root)
    created_at = time.time()
    report = send(config, sendgrid)
    assert report.completed and report.stopped is None
    # The demo list: 5 valid unique addresses; the mock's suppression lists name user1@example.com.
    assert report.counts["accepted"] == 4 and report.counts["skipped"] == 1
    with Store(config.settings.state) as store:
        assert store.skip_reasons("2026-12") == {"unsubscribed": 1}
        assert store.delivery_states("2026-12")["user1@example.com"] == "skipped"
    reads = sorted(r.path for r in sendgrid.records if r.method == "GET")
    assert reads == [
        "/v3/asm/groups/4242/suppressions", "/v3/suppression/bounces", "/v3/suppression/invalid_emails",
        "/v3/suppression/spam_reports", "/v3/suppression/unsubscribes",
    ]  # fmt: skip
    (request,) = sendgrid.mail_sends
    body = request.body
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert [len(p["to"]) for p in body["personalizations"]] == [1, 1, 1, 1]
    assert "user1@example.com" not in request.recipients
    anna = body["personalizations"][0]
    assert anna == {
        "to": [{"email": "anna.devries@example.org", "name": "Anna de Vries"}],
        "substitutions": {"%naam%": "Anna de Vries"},
    }
    assert body["personalizations"][2]["substitutions"] == {"%naam%": "lezer"}  # carla has no name
    assert body["asm"] == {"group_id": 4242}
    assert body["categories"] == ["nieuwsbrief", "demo", "issue-2026-12"]
    assert len([r for r in sendgrid.records if r.path == "/v3/mail/batch"]) == 1
    batch = body["batch_id"]
    assert batch.startswith("batch") and body["custom_args"] == {
        "issue": "2026-12",
        "request": "1",
        "batch": batch,
    }
    assert body["headers"] == {
        "List-Unsubscribe": "<<%asm_group_unsubscribe_raw_url%>>, <mailto:redactie@example.org?subject=afmelden%202026-12>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": '"Nieuwsbrief Samen tegen Kinderarmoede (demo)"'
        " <nieuwsbrief-samen-tegen-kinderarmoede-demo.nieuwsbrief.example.org>",
    }
    assert body["reply_to"] == {"email": "redactie@example.org"}
    # Held at SendGrid for the hold time (30 minutes), to the whole minute: recallable until then.
    held = body["send_at"] - created_at
    assert 30 * 60 <= held <= 31 * 60 and body["send_at"] % 60 == 0
    assert report.send_at == dt.datetime.fromtimestamp(body["send_at"], dt.UTC)
    with Store(config.settings.state) as store:
        assert {b.message_id for b in store.delivery_batches("2026-12")} == {"mock-message-id-0001"}


def test_batches_of_at_most_1000_and_a_rerun_sends_nothing(demo_root: Path, sendgrid: MockProxy) -> None:
    write_subscribers(demo_root, 2500)
    config = load_config(demo_root)
    report = send(config, sendgrid)
    assert [len(r.recipients) for r in sendgrid.mail_sends] == [1000, 1000, 500]
    assert report.counts["accepted"] == 2500 and report.requests == 3 + 5 + 1  # mail, suppressions, the batch
    assert len({r.body["batch_id"] for r in sendgrid.mail_sends}) == 1  # one batch for the whole send
    again = send(config, sendgrid)
    assert again.sent_now == 0 and len(sendgrid.mail_sends) == 3
    assert set(times_accepted(sendgrid).values()) == {1}


def test_a_400_with_two_requests_in_flight_records_both(demo_root: Path, sendgrid: MockProxy) -> None:
    write_subscribers(demo_root, 2500)
    config = load_config(demo_root)
    sendgrid.fault = lambda r: "400" if len(sendgrid.mail_sends) == 1 and r.path == "/v3/mail/send" else None
    report = send(config, sendgrid)  # two at a time: the other request's answer is still recorded
    assert report.stopped is not None and report.counts["failed"] == 1000
    assert report.counts["in_flight"] == 0 and report.counts["unknown"] == 0
    assert report.counts["accepted"] == sum(len(r.recipients) for r in sendgrid.accepted_by_prism())
    sendgrid.fault = None
    assert send(config, sendgrid).completed
    assert set(times_accepted(sendgrid).values()) == {1}


def test_scheduled_issue_carries_send_at(demo_root: Path, sendgrid: MockProxy) -> None:
    config = load_config(demo_root)
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=20)
    send(config, sendgrid, send_at=when)
    assert sendgrid.mail_sends[0].body["send_at"] == int(when.timestamp())


def test_a_send_on_a_day_years_ahead_is_held_by_its_own_clock(demo_root: Path, sendgrid: MockProxy) -> None:
    # cron's --now: the send's clock (and SendGrid's) says 2031-03-02 09:00; its send_at 20 hours
    # later is within 72 hours of that clock (checked against the machine's time, it was refused).
    config = load_config(demo_root)
    start = dt.datetime(2031, 3, 2, 9, 0, tzinfo=dt.UTC)
    sendgrid.state.clock = start.timestamp
    policy = RetryPolicy(attempts=4, base=0.01, timeout=5)
    transport = open_transport(config, env_for(sendgrid), policy=policy, sleep=Waits(), clock=lambda: start)
    with Store(config.settings.state) as store:
        report = list_send(
            config, store, rendered(), transport, placements=[("partners", "x")],
            send_at=dt.datetime(2031, 3, 3, 5, 0, tzinfo=dt.UTC), clock=lambda: start,
        )  # fmt: skip
    assert report.stopped is None and report.counts["accepted"] == 4
    held_until = int(dt.datetime(2031, 3, 3, 5, 0, tzinfo=dt.UTC).timestamp())
    assert [r.body["send_at"] for r in sendgrid.mail_sends] == [held_until]


def test_429_and_503_are_retried_honouring_retry_after(demo_root: Path, sendgrid: MockProxy) -> None:
    config = load_config(demo_root)
    faults = iter(["429", "503"])
    sendgrid.fault = lambda r: next(faults, None) if r.path == "/v3/mail/send" else None
    sendgrid.retry_after = "2"
    waits = Waits()
    report = send(config, sendgrid, waits=waits)
    assert [r.status for r in sendgrid.mail_sends] == [429, 503, 202]
    assert report.counts["accepted"] == 4 and report.completed
    assert waits.waits[0] == 2.0  # Retry-After
    assert 0 <= waits.waits[1] <= 0.02  # backoff with jitter: base 0.01 * 2**1
    assert set(times_accepted(sendgrid).values()) == {1}


def test_rate_limit_that_never_ends_stops_with_everyone_still_pending(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    config = load_config(demo_root)
    sendgrid.fault = lambda r: "429" if r.path == "/v3/mail/send" else None
    report = send(config, sendgrid)
    assert report.stopped == "SendGrid answered 429 4 time(s)"
    assert report.counts["pending"] == 4 and report.counts["accepted"] == 0 and not report.completed
    sendgrid.fault = None
    assert send(config, sendgrid).counts["accepted"] == 4


def test_400_stops_the_send_with_sendgrids_message_and_a_rerun_continues(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    write_subscribers(demo_root, 2500)
    config = load_config(demo_root)
    sendgrid.fault = lambda r: "400" if len(sendgrid.mail_sends) == 2 and r.path == "/v3/mail/send" else None
    report = send(config, sendgrid, concurrency=1)  # one at a time: which request fails is then known
    assert report.stopped is not None and report.stopped.startswith("SendGrid answered 400: ")
    assert "(field " in report.stopped  # SendGrid's errors[].field
    assert (report.counts["accepted"], report.counts["failed"], report.counts["pending"]) == (1000, 1000, 500)
    assert not report.completed
    with Store(config.settings.state) as store:
        assert store.sent_issue("2026-12").completed_at is None
    sendgrid.fault = None
    again = send(config, sendgrid)
    assert again.completed and again.counts["accepted"] == 2500 and again.sent_now == 1500
    assert set(times_accepted(sendgrid).values()) == {1}


def test_a_lost_answer_is_settled_by_cancelling_the_batch_and_sending_everyone_again(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    """The answer to request 2 is lost (SendGrid has it). The send goes on, then waits until that
    request can no longer be on its way, cancels the whole batch (one cancel), confirms it, and
    sends all 2,500 again in a new batch: each gets it once, nobody is unknown."""
    write_subscribers(demo_root, 2500)
    config = load_config(demo_root)
    sim = SimTime()
    sendgrid.state.clock = sim.timestamp
    sendgrid.fault = lambda r: "drop" if len(sendgrid.mail_sends) == 2 and r.path == "/v3/mail/send" else None
    report = send(config, sendgrid, concurrency=1, clock=sim.now, sleep=sim.sleep)
    assert report.completed and report.repaired == 1 and report.unknown_batches == ()
    assert (report.counts["accepted"], report.counts["unknown"], report.counts["in_flight"]) == (2500, 0, 0)
    # Sent now: the 2,500 of the new batch; the cancel discarded what the first batch had accepted.
    assert report.sent_now == 2500
    # It waited until the lost request could no longer reach SendGrid (timeout 5 s + settle 30 s).
    assert sim.slept and 30 < sim.slept[0] <= 35
    first, second = (
        {r.body["batch_id"] for r in sendgrid.mail_sends[:3]},
        {r.body["batch_id"] for r in sendgrid.mail_sends[3:]},
    )
    assert len(first) == len(second) == 1 and first != second
    cancels = [r for r in sendgrid.records if r.path == "/v3/user/scheduled_sends" and r.method == "POST"]
    assert [c.body for c in cancels] == [{"batch_id": first.pop(), "status": "cancel"}]
    received = sendgrid.received()
    assert len(received) == 2500 and set(received.values()) == {1}
    assert send(config, sendgrid, clock=sim.now, sleep=sim.sleep).sent_now == 0  # done: a rerun sends nothing


def test_a_lost_answer_past_the_cancel_deadline_is_unknown_and_resent_only_when_asked(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    """When the request cannot settle before SendGrid's deadline, nothing can be repaired: those
    subscribers are reported unknown, and only the editor's --resend-unknown sends them again."""
    write_subscribers(demo_root, 2500)
    config = load_config(demo_root)
    sim = SimTime()
    sendgrid.state.clock = sim.timestamp
    sendgrid.fault = lambda r: "drop" if len(sendgrid.mail_sends) == 2 and r.path == "/v3/mail/send" else None
    policy = RetryPolicy(attempts=4, base=0.01, timeout=5, settle=25 * 60)  # settles after the deadline
    report = send(config, sendgrid, policy=policy, concurrency=1, clock=sim.now, sleep=sim.sleep)
    assert report.unknown_batches == (2,) and report.repaired == 0 and sim.slept == []
    assert (report.counts["accepted"], report.counts["unknown"]) == (1500, 1000)
    assert report.completed  # everyone has a final state; the unknown ones are reported
    sendgrid.fault = None
    assert send(config, sendgrid, clock=sim.now).sent_now == 0  # not silently resent
    assert len(sendgrid.mail_sends) == 3
    resent = send(config, sendgrid, resend_unknown=True, clock=sim.now)
    assert resent.resent_unknown == 1000 and resent.sent_now == 1000 and resent.counts["unknown"] == 0
    # The editor asked for it: SendGrid had accepted request 2 before, so those 1000 got it twice.
    assert Counter(sendgrid.received().values()) == {1: 1500, 2: 1000}


def test_a_timed_out_request_is_settled_like_a_lost_answer(demo_root: Path, sendgrid: MockProxy) -> None:
    config = load_config(demo_root)
    slow_once = threading.Event()

    def slow(r: Recorded, phase: str) -> None:
        if r.path == "/v3/mail/send" and phase == "answered-by-prism" and not slow_once.is_set():
            slow_once.set()
            time.sleep(0.6)

    sendgrid.hook = slow
    sim = SimTime()
    sendgrid.state.clock = sim.timestamp
    transport = open_transport(
        config, env_for(sendgrid), policy=RetryPolicy(attempts=3, base=0.01, timeout=0.3, settle=1)
    )
    with Store(config.settings.state) as store:
        report = list_send(config, store, rendered(), transport, clock=sim.now, sleep=sim.sleep)
    assert report.repaired == 1 and report.counts["accepted"] == 4 and report.counts["unknown"] == 0
    assert len(sendgrid.mail_sends) == 2  # the timed-out request was never retried, its batch cancelled
    assert set(sendgrid.received().values()) == {1} and len(sendgrid.received()) == 4


def test_unreachable_before_sending_is_retried_then_left_pending() -> None:
    waits = Waits()
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": f"http://127.0.0.1:{free_port()}"}
    api = SendGridAPI.from_env("global", env, policy=RetryPolicy(attempts=3, base=0.01), sleep=waits)
    assert api is not None
    body = mail_body(from_email="n@example.org", from_name="N", reply_to=None, subject="s", text="t", html="h",
                     recipients=[("a@example.org", None)])  # fmt: skip
    result = api.send(body)
    assert (result.answer, result.attempts, api.requests, len(waits.waits)) == ("not_sent", 3, 3, 2)
    assert result.reason is not None and result.reason.startswith(
        "cannot reach SendGrid at http://127.0.0.1:"
    )


def test_region_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SendGridAPI("SG.x", region="eu").host == "https://api.eu.sendgrid.com"
    assert SendGridAPI("SG.x", region="global").host == "https://api.sendgrid.com"
    env = {"SENDGRID_API_KEY": "SG.x", "SENDGRID_HOST": "http://127.0.0.1:1234/"}
    api = SendGridAPI.from_env("eu", env)
    assert api is not None and api.host == "http://127.0.0.1:1234"
    assert SendGridAPI.from_env("eu", {}) is None
    assert "SG.x" not in repr(api)
    for host in ("api.sendgrid.com", "ftp://example.org", "http://[::1", "http://127.0.0.1:port"):
        with pytest.raises(HostInvalid) as e:
            SendGridAPI.from_env("eu", {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": host})
        assert e.value.message == f"SENDGRID_HOST {host!r} is not an http(s) address"
        assert API_KEY not in str(e.value)
    for pasted in (f"{API_KEY}’", f"SG.{API_KEY} x", f"{API_KEY}\x00"):
        with pytest.raises(KeyInvalid) as k:
            SendGridAPI.from_env("eu", {"SENDGRID_API_KEY": pasted})
        assert API_KEY not in str(k.value)


def test_an_answer_that_is_not_json_stops_the_suppression_read() -> None:
    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>Log in to the hotel wifi</html>")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": f"http://127.0.0.1:{server.server_address[1]}"}
        api = SendGridAPI.from_env("global", env)
        assert api is not None
        with pytest.raises(SendGridError) as e:
            list(api.suppressions(None))
    finally:
        server.shutdown()
        server.server_close()
    assert e.value.message == f"reading /v3/suppression/unsubscribes: the answer from {api.host} is not JSON"
    assert API_KEY not in str(e.value)


def test_dry_run_reads_suppressions_and_sends_nothing(demo_root: Path, sendgrid: MockProxy) -> None:
    config = load_config(demo_root)
    transport = open_transport(config, env_for(sendgrid))
    with Store(config.settings.state) as store:
        p = plan(config, store, approved(config, rendered())[0], transport)
    assert p.refused is None
    assert p.list.suppressions_read and p.skipped == {"unsubscribed": 1}
    assert (p.to_send, p.requests, p.list.duplicates, p.list.invalid) == (4, 1, 1, 1)
    assert sendgrid.mail_sends == []


# -- the command line, and what never appears in output -----------------------------------------------
def test_cli_test_send_dry_run_and_secrets(
    demo_root: Path, sendgrid: MockProxy, cli: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_issue(demo_root)
    for k, v in env_for(sendgrid).items():
        monkeypatch.setenv(k, v)
    result = cli("send", "2026-12", "--to", "redactie@example.nl")  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Test copy of 2026-12 (subject marked [TEST]) to 1 address via SendGrid ({sendgrid.url}).\n"
    )
    (request,) = sendgrid.mail_sends
    assert request.body["subject"] == "[TEST] Nieuws van partners"
    assert "asm" not in request.body and request.recipients == ["redactie@example.nl"]
    for token in ("%naam%", "<%asm_group_unsubscribe_raw_url%>", "<%asm_preferences_raw_url%>"):
        assert token not in request.body["content"][1]["value"]

    draft = cli("send", "2026-12", "--dry-run")  # type: ignore[operator]
    assert (
        draft.exit_code == 1
        and "  would send:      no, it would be refused: issue 2026-12 is not" in draft.output
    )
    assert cli("approve", "2026-12", "--by", "Anna").exit_code == 0  # type: ignore[operator]
    plan_out = cli("send", "2026-12", "--dry-run")  # type: ignore[operator]
    assert plan_out.exit_code == 0 and "  would send:      yes\n" in plan_out.output
    assert "  skipped:         1 (unsubscribed: 1)\n" in plan_out.output
    assert "  to send now:     4 in 1 request\n" in plan_out.output
    assert "subscribers.csv:8: warning: the email column is not a valid address" in plan_out.output
    assert len(sendgrid.mail_sends) == 1

    sendgrid.fault = lambda r: "400" if r.path == "/v3/mail/send" else None
    failed = cli("send", "2026-12", "--to", "redactie@example.nl")  # type: ignore[operator]
    assert failed.exit_code == 1 and failed.output.startswith(
        "Error: the test send was not accepted: SendGrid answered 400"
    )

    everything = plan_out.output + result.output + failed.output
    assert API_KEY not in everything
    for address in ("anna.devries", "bram.jansen", "carla@", "daan.bakker", "user1@", "not-an-address"):
        assert address not in everything.lower()
    state = (demo_root / "state" / "newsletter.sqlite3").read_bytes()
    assert API_KEY.encode() not in state


def test_the_key_is_in_no_exception_or_database(demo_root: Path, sendgrid: MockProxy) -> None:
    config = load_config(demo_root)
    sendgrid.fault = lambda r: "400" if r.path == "/v3/mail/send" else None
    report = send(config, sendgrid)
    assert report.stopped and API_KEY not in report.stopped and API_KEY not in repr(report)
    db = sqlite3.connect(config.settings.state)
    dump = "\n".join(db.iterdump())
    assert API_KEY not in dump and "not-an-address" not in dump


def test_cli_list_send_needs_approval_then_goes_once(
    demo_root: Path, sendgrid: MockProxy, cli: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_issue(demo_root)
    for k, v in env_for(sendgrid).items():
        monkeypatch.setenv(k, v)
    refused = cli("send", "2026-12")  # type: ignore[operator]
    assert refused.exit_code == 1
    assert (
        "Error: issue 2026-12 is not approved; only an approved, unchanged issue goes to the list\n"
        in refused.output
    )
    assert sendgrid.mail_sends == []
    assert cli("approve", "2026-12", "--by", "Redactie").exit_code == 0  # type: ignore[operator]
    sent = cli("send", "2026-12")  # type: ignore[operator]
    assert sent.exit_code == 0, sent.output
    assert (
        f"Issue 2026-12 to SendGrid ({sendgrid.url}): accepted 4, skipped 1, failed 0, unknown 0, pending 0"
        " (4 sent in this run, 7 requests)\n" in sent.output
    )
    assert "status: sent\n" in (demo_root / "issues" / "2026-12.yaml").read_text(encoding="utf-8")
    # The list send, then the editors' delivery report (the send served the last subscriber).
    list_mail, report_mail = sendgrid.mail_sends
    assert [r.recipients for r in (list_mail, report_mail)][1] == ["redactie@example.org"]
    again = cli("send", "2026-12")  # type: ignore[operator]
    assert again.exit_code == 0 and "(0 sent in this run, 0 requests)" in again.output
    assert len(sendgrid.mail_sends) == 2  # nothing sent, and no second report
    # Editing the issue after it went out changes nothing that was sent.
    with (demo_root / "issues" / "2026-12.yaml").open("a", encoding="utf-8") as f:
        f.write("# a comment\n")
    assert cli("send", "2026-12").exit_code == 0 and len(sendgrid.mail_sends) == 2  # type: ignore[operator]


def test_notify_editors_mails_counts_only(demo_root: Path, sendgrid: MockProxy) -> None:
    from pipeline.deliver import notify_editors

    config = load_config(demo_root)
    report = send(config, sendgrid)
    notify_editors(config, report, env_for(sendgrid))
    note = sendgrid.mail_sends[-1]
    assert note.recipients == ["redactie@example.org"] and "asm" not in note.body
    text = note.body["content"][0]["value"]
    assert "verstuurd:          4\n" in text and "overgeslagen:       1\n" in text
    # Not list mail: no unsubscribe or list headers, and no Reply-To: the outbox writes the same.
    assert "headers" not in note.body and "reply_to" not in note.body
    assert "anna" not in text.lower()

    # A refused report is the send's error, with SendGrid's answer and the fix (infra's send_or_raise).
    from pipeline.deliver.model import SendStopped

    sendgrid.fault = lambda r: "400" if r.path == "/v3/mail/send" else None
    with pytest.raises(SendStopped) as refused:
        notify_editors(config, report, env_for(sendgrid))
    assert refused.value.message.startswith("the delivery report was not accepted: SendGrid answered 400")
    assert refused.value.hint == "see the counts above"


def test_a_retry_after_that_is_no_number_or_date_still_finishes_the_send(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    """SendGrid (or a proxy) answering 429 with 'Retry-After: soon': the send waits its own backoff
    and goes on. It used to stop with a ValueError and leave the batches in flight 'unknown'."""
    write_subscribers(demo_root, 2500)
    write_issue(demo_root)
    env = env_for(sendgrid)
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie", env=env).returncode == 0
    refused = iter(["429", "429"])
    sendgrid.fault = lambda r: next(refused, None) if r.path == "/v3/mail/send" else None
    sendgrid.retry_after = "soon"
    sent = newsletter(demo_root, "send", "2026-12", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "Traceback" not in sent.stderr
    assert "accepted 2500, skipped 0, failed 0, unknown 0, pending 0" in sent.stdout
    assert [r.status for r in sendgrid.mail_sends[:2]] == [429, 429]
    counts = times_accepted(sendgrid)
    assert counts.pop("redactie@example.org") == 1  # the editors' delivery report
    assert len(counts) == 2500 and set(counts.values()) == {1}
