"""Crash tests: the sending process killed with SIGKILL again and again, at random moments and at the
worst ones (a request on its way, its answer on the way back, a cancel half done), then resumed;
and answers that never come back (dropped after SendGrid took the request, or later than the
client's timeout). Where each kill landed is read from the fake and the ledger, and every kind of
moment must have been hit.

Against the stateful SendGrid fake in front of Prism: the batch of a killed request is cancelled and
its subscribers sent again, so that in the end every subscriber gets the issue exactly once and
nobody is unknown; only a kill whose cancel window has passed leaves subscribers unknown, reported
and never resent without the editor's word.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("sendgrid_mock")

from conftest import editor_time, newsletter, write_issue  # noqa: E402
from sendgrid_mock import API_KEY, MockProxy, Recorded  # noqa: E402
from test_deliver import write_subscribers  # noqa: E402

from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.store import Store  # noqa: E402

pytestmark = [pytest.mark.mock, pytest.mark.slow]

SUBSCRIBERS = 8000
KILLS = 24  # at least this many SIGKILLs land, and at least one of them in a cancel
# Smaller than the real 1000, so that one attempt has 40 requests to be killed around; the batch
# size changes nothing in the ledger's logic (test_deliver_sendgrid covers batches of 1000).
BATCH = 200

# The sender, as a separate process that can be killed: the library entry point under the lock.
# Requests time out after 2 s and settle 1 s later (a time-out is killed in that second), so that a
# repair waits a moment, not 90 s.
DRIVER = """
import sys
from pathlib import Path
from conftest import list_send  # the approved issue around the fixed content below
from pipeline.infra.instance import load_config
from pipeline.deliver import open_transport, send_lock
from pipeline.domain.models import Rendered
from pipeline.infra.sendgrid import RetryPolicy
from pipeline.infra.store import Store

config = load_config(Path(sys.argv[1]))
transport = open_transport(config, policy=RetryPolicy(attempts=4, base=0.01, timeout=2, settle=1.0))
rendered = Rendered("2026-12", "Onderwerp", "", "<p>Beste %naam%</p>", "Beste %naam%", "<p>web</p>")
with send_lock(config, "2026-12"), Store(config.settings.database) as store:
    report = list_send(config, store, rendered, transport, batch_size=int(sys.argv[2]))
print(dict(report.counts), report.sent_now, report.repaired, report.stopped)
"""
MODES = [
    "in-send",
    "on-arrival-delivered",
    "in-cancel",
    "on-arrival-lost",
    "after-accept",
    "startup",
    "after-cancel",
]
# Rounds whose answer never comes back, and a kill just after an answer: once each, after the first
# MODES, and again only while their moment was not hit (each lost answer costs a cancel at SendGrid,
# which holds 10 at a time).
EXTRA = ["answer-dropped", "after-answer", "answer-late", "answer-dropped-repaired"]
TIMEOUT = 2.0  # the driver's request timeout (RetryPolicy in DRIVER)

# Where a kill landed, read from the fake's records at the moment of the kill and the ledger after it.
STARTUP = "before the first request"
ON_ITS_WAY = "a request on its way"
ACCEPTED = "accepted at SendGrid, the answer not back"
UNWRITTEN = "the answer back, the ledger not written"
BETWEEN = "between requests, the ledger written"
CANCEL = "in a cancel"
LOST = "after a lost answer, before its repair"
TIMED_OUT = "after a time-out, before its repair"
REPAIRED = "after a lost answer was repaired in the same run"
# Each must be hit. Not "between requests": two requests run at once, so a kill while sending almost
# always finds one in progress; it is counted when it happens.
MOMENTS = (STARTUP, ON_ITS_WAY, ACCEPTED, UNWRITTEN, CANCEL, LOST, TIMED_OUT, REPAIRED)
AIMED_AT = {
    STARTUP: "startup", ON_ITS_WAY: "on-arrival-delivered", ACCEPTED: "after-accept", UNWRITTEN: "after-answer",
    CANCEL: "in-cancel", LOST: "answer-dropped", TIMED_OUT: "answer-late",
    REPAIRED: "answer-dropped-repaired",
}  # fmt: skip


def latency(r: Recorded, phase: str) -> None:
    # A little network time, so that a random kill lands in a request as often as between two.
    if r.path == "/v3/mail/send" and phase == "answered-by-prism":
        time.sleep(0.03)


def is_cancel(r: Recorded) -> bool:
    return r.method == "POST" and r.path == "/v3/user/scheduled_sends"


@dataclass(frozen=True)
class Seen:
    """A request of this round as the fake saw it when the kill was sent."""

    index: int
    cancel: bool
    status: int
    answered: bool
    recipients: tuple[str, ...]
    batch: str | None


def _batch(r: Recorded) -> str | None:
    return str(r.body["batch_id"]) if isinstance(r.body, dict) and r.body.get("batch_id") else None


def landed(seen: list[Seen], faults: dict[int, str], in_cancel: bool, states: dict[str, str]) -> set[str]:
    """Every kind of moment the kill caught (two requests run at once, so it can be more than one)."""
    moments: set[str] = {CANCEL} if in_cancel else set()
    sends = [r for r in seen if not r.cancel]
    if not seen:
        return {STARTUP}
    for r in sends:
        if r.index in faults:
            continue
        if r.status == 0:
            moments.add(ON_ITS_WAY)
        elif not r.answered:
            moments.add(ACCEPTED)
        elif any(states.get(a.lower()) == "in_flight" for a in r.recipients):
            moments.add(UNWRITTEN)
    for index, fault in faults.items():
        batch = next(r.batch for r in sends if r.index == index)
        repaired = any(r.cancel and r.batch == batch and r.index > index and r.answered for r in seen)
        moments.add(REPAIRED if repaired else LOST if fault == "drop" else TIMED_OUT)
    if not moments and sends:
        moments.add(BETWEEN)
    return moments


class Later(threading.Thread):
    """``threading.Timer`` by a relative sleep: under faketime (a test at another date) the timed
    wait that Timer uses never ends, because libfaketime shifts the monotonic clock too."""

    def __init__(self, delay: float, action: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.delay, self.action, self.cancelled = delay, action, threading.Event()

    def run(self) -> None:
        time.sleep(self.delay)
        if not self.cancelled.is_set():
            self.action()

    def cancel(self) -> None:
        self.cancelled.set()


class Sender:
    def __init__(self, root: Path, proxy: MockProxy) -> None:
        self.root = root
        self.env = {**os.environ, "SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": proxy.url}
        here = Path(__file__).resolve()
        self.env["PYTHONPATH"] = os.pathsep.join((str(here.parents[1]), str(here.parent)))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(self.root), str(BATCH)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return self.process

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def test_sigkill_at_many_points_then_resume_everyone_once_nobody_unknown(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    write_subscribers(demo_root, SUBSCRIBERS)
    # The mock's suppression lists name user1@example.com: it must never be mailed.
    with (demo_root / "subscribers.csv").open("a", encoding="utf-8") as f:
        f.write("user1@example.com;Onderdrukt\n")
    config = load_config(demo_root)
    sender = Sender(demo_root, sendgrid)
    rng = random.Random(20261210)
    kinds: Counter[str] = Counter()
    moments: Counter[str] = Counter()
    kills = rounds = 0

    def missing() -> list[str]:
        return [m for m in MOMENTS if moments[m] == 0]

    # At most 60 rounds: every kill in a request costs a cancel at SendGrid, which holds 10 at a time.
    while (kills < KILLS or missing()) and rounds < 60:
        if len(MODES) <= rounds < len(MODES) + len(EXTRA):
            mode = EXTRA[rounds - len(MODES)]
        elif rounds > len(MODES) + len(EXTRA) and missing():
            mode = AIMED_AT[missing()[rounds % len(missing())]]
        else:
            mode = MODES[rounds % len(MODES)]
        rounds += 1
        first = len(sendgrid.records)  # this round's requests start here
        target = len(sendgrid.mail_sends) + rng.randint(0, 2)  # the mail send of this run to kill at
        delay = {"in-send": rng.uniform(0.0, 0.15), "startup": rng.uniform(0.05, 0.5)}.get(
            mode, rng.uniform(0.2, 0.9)
        )
        fired = threading.Event()
        timers: list[Later] = []
        in_cancel: list[bool] = []
        seen: list[Seen] = []
        faults: dict[int, str] = {}  # record index -> "drop" or "late": answers the sender never got
        process = sender.start()

        def kill(
            fired: threading.Event = fired,
            in_cancel: list[bool] = in_cancel,
            seen: list[Seen] = seen,
            first: int = first,
            cancel: bool = False,
            process: subprocess.Popen[bytes] = process,
        ) -> None:
            # Only this round's process: a late call from a proxy thread must not kill the next one.
            if process.poll() is None and not fired.is_set():
                with sendgrid.lock:
                    seen.extend(
                        Seen(r.index, is_cancel(r), r.status, r.answered, tuple(r.recipients), _batch(r))
                        for r in sendgrid.records[first:]
                        if r.path == "/v3/mail/send" or is_cancel(r)
                    )
                in_cancel.append(cancel)
                fired.set()
                process.send_signal(signal.SIGKILL)

        def hook(
            r: Recorded,
            phase: str,
            mode: str = mode,
            target: int = target,
            delay: float = delay,
            fired: threading.Event = fired,
            timers: list[Later] = timers,
            faults: dict[int, str] = faults,
            first: int = first,
            kill: Callable[..., None] = kill,
        ) -> None:
            if fired.is_set():
                return
            latency(r, phase)
            sends = len(sendgrid.mail_sends) - 1
            mail = r.path == "/v3/mail/send"
            if (
                mode == "answer-late"
                and mail
                and phase == "answered-by-prism"
                and not faults
                and sends >= target
            ):
                faults[r.index] = "late"  # SendGrid has it; the answer comes after the client gave up
                time.sleep(TIMEOUT + 0.1)
                kill()  # the client timed out and went on; killed before the repair (it settles 1 s later)
            elif mode in ("answer-dropped", "answer-dropped-repaired") and faults:
                if is_cancel(r) and phase == "received" and mode == "answer-dropped":
                    kill(cancel=True)  # no later request in this attempt: the repair's cancel
                elif mail and phase == "received":
                    lost = _batch(sendgrid.records[max(faults)])
                    cancelled = any(
                        is_cancel(c) and c.answered and _batch(c) == lost for c in sendgrid.records[first:]
                    )
                    if mode == "answer-dropped-repaired" and cancelled:
                        kill()  # cancelled in this run, its subscribers being sent again
                    elif mode == "answer-dropped" and r.index > max(faults) + 2:
                        kill()  # the lost answer is still in doubt: the next run settles it
            elif mode == "in-cancel" and is_cancel(r) and phase == "received":
                kill(cancel=True)  # the intent is committed, SendGrid gets the cancel, the answer is lost
            elif mode == "after-cancel" and is_cancel(r) and phase == "answered-by-prism":
                kill(cancel=True)  # cancelled at SendGrid, not yet confirmed or written down
            elif not mail or mode.startswith("answer-"):
                return
            elif mode == "in-send" and phase == "received" and not timers:
                # A random moment once sending is under way: in a request, a commit, or between.
                timers.append(Later(delay, kill))
                timers[-1].start()
            elif sends >= target + (6 if mode.endswith("cancel") else 0) and (
                (mode.startswith("on-arrival") and phase == "received")
                or (mode in ("after-accept", "in-cancel", "after-cancel") and phase == "answered-by-prism")
                or (mode == "after-answer" and phase == "answered")
            ):
                kill()  # (the cancel modes fall back to a request when no cancel comes soon)

        def fault(
            r: Recorded, mode: str = mode, fired: threading.Event = fired, target: int = target,
            faults: dict[int, str] = faults,
        ) -> str | None:  # fmt: skip
            if fired.is_set() and mode == "on-arrival-lost":
                return "refuse"  # killed on arrival, and the request never reaches SendGrid
            mail = r.path == "/v3/mail/send"
            if (
                mode.startswith("answer-dropped")
                and mail
                and not faults
                and len(sendgrid.mail_sends) - 1 >= target
            ):
                faults[r.index] = "drop"  # SendGrid takes it; the answer is lost on the way back
                return "drop"
            return None

        sendgrid.hook = hook
        sendgrid.fault = fault
        if mode == "startup":  # reading the list, the suppressions, the first commits
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                kill()
        else:
            process.wait(timeout=120)
        for t in timers:
            t.cancel()
        sendgrid.hook = None
        sendgrid.fault = None
        if fired.is_set():
            kills += 1
            kinds[mode if not mode.endswith("cancel") or in_cancel[:1] == [True] else "near-cancel"] += 1
            with Store(config.settings.state) as store:
                states = {a.lower(): s for a, s in store.delivery_states("2026-12").items()}
            moments.update(landed(seen, faults, in_cancel[:1] == [True], states))
        elif process.returncode == 0 and _counts(config)["pending"] == 0:
            break  # the send finished before this round's kill point

    # The final, undisturbed run: settles what the last kill left in doubt and finishes the send.
    process = sender.start()
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err.decode()[-2000:]

    counts = _counts(config)
    with Store(config.settings.state) as store:
        states = store.delivery_states("2026-12")
        assert store.sent_issue("2026-12").completed_at is not None
        attempts = store.attempts("2026-12")
    received = sendgrid.received()
    cancels = [r for r in sendgrid.records if is_cancel(r)]
    lost = [r for r in sendgrid.mail_sends if r.fault == "drop" or (r.status == 202 and not r.answered)]

    assert kills >= KILLS, f"only {kills} kills landed ({dict(kinds)})"
    assert not missing(), f"no kill landed {' or '.join(missing())} (landed: {dict(moments)})"
    assert counts["pending"] == counts["in_flight"] == counts["failed"] == counts["unknown"] == 0
    assert counts["accepted"] == SUBSCRIBERS and counts["skipped"] == 1
    assert states["user1@example.com"] == "skipped" and received["user1@example.com"] == 0
    # Exactly the list, each address once: not only as many addresses as subscribers.
    expected = {f"lid{i}@example.org" for i in range(SUBSCRIBERS)}
    got = Counter(address.lower() for address in received.elements())
    assert set(got) == expected, (
        f"missing: {sorted(expected - set(got))[:5]}, not on the list: {sorted(set(got) - expected)[:5]}"
    )
    assert {a for a, n in got.items() if n != 1} == set(), "someone got it twice"
    assert len(sendgrid.state.held_statuses()) <= 10  # within SendGrid's limit of cancels
    # A further run sends nothing at all.
    mail_sends = len(sendgrid.mail_sends)
    sender.start().communicate(timeout=60)
    assert len(sendgrid.mail_sends) == mail_sends

    print(
        f"\ncrash test: {SUBSCRIBERS} subscribers, {kills} SIGKILLs in {rounds} rounds ({dict(kinds)});"
        f" where they landed: {dict(moments)}; {len(lost)} answers lost or late;"
        f" {len(attempts)} batches, {len({c.body['batch_id'] for c in cancels})} cancelled;"
        f" {mail_sends} mail requests; served exactly once: {len(got)}; unknown: {counts['unknown']};"
        f" twice: 0; the suppressed address: never"
    )


def test_a_lost_answer_and_a_time_out_without_a_kill_are_repaired_and_everyone_gets_it_once(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    """No kill to hide behind: the send's own attempt has a dropped answer and a late one; the run
    cancels that attempt and sends its subscribers again, so each address on the list gets it once."""
    write_subscribers(demo_root, 1000)  # five requests of 200
    troubled: dict[int, str] = {}

    def drop_the_first(r: Recorded) -> str | None:
        if r.path == "/v3/mail/send" and not troubled:
            troubled[r.index] = "drop"  # SendGrid takes it; the answer is lost on the way back
            return "drop"
        return None

    def answer_the_third_late(r: Recorded, phase: str) -> None:
        if r.path != "/v3/mail/send":
            return
        if phase == "received" and len(sendgrid.mail_sends) == 3:
            troubled[r.index] = "late"  # SendGrid takes it; the answer comes after the client's time-out
        elif phase == "answered-by-prism" and troubled.get(r.index) == "late":
            time.sleep(TIMEOUT + 0.2)

    sendgrid.fault, sendgrid.hook = drop_the_first, answer_the_third_late
    process = Sender(demo_root, sendgrid).start()
    out, err = process.communicate(timeout=120)
    sendgrid.fault = sendgrid.hook = None
    assert process.returncode == 0, err.decode()[-2000:]
    assert sorted(troubled.values()) == ["drop", "late"]
    first = _batch(sendgrid.records[min(troubled)])
    assert [_batch(r) for r in sendgrid.records if is_cancel(r) and r.answered] == [first]
    counts = _counts(load_config(demo_root))
    assert counts["accepted"] == 1000 and counts["unknown"] == counts["pending"] == counts["in_flight"] == 0
    got = Counter(address.lower() for address in sendgrid.received().elements())
    assert got == Counter({f"lid{i}@example.org": 1 for i in range(1000)})
    assert out.decode().rstrip().endswith(" None")  # report.stopped: the run did not stop


def _counts(config: object) -> dict[str, int]:
    with Store(config.settings.state) as store:  # type: ignore[attr-defined]
        return store.delivery_counts("2026-12")


def test_a_kill_whose_cancel_window_has_passed_is_reported_unknown_and_resent_only_when_asked(
    demo_root: Path, sendgrid: MockProxy
) -> None:
    """The only way left to leave subscribers unknown: a kill, and no run until SendGrid's deadline."""
    write_subscribers(demo_root, 1000)  # one request: killed once SendGrid has it, before the answer
    config = load_config(demo_root)
    tz = config.settings.timezone
    goes_out = (
        (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=45)).astimezone(tz).replace(second=0, microsecond=0)
    )
    write_issue(demo_root, send_at=editor_time(goes_out))
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie", env=env).returncode == 0

    full = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    victim = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--root", str(demo_root), "send", "2026-12"],
        env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip

    def kill_on_answer(r: Recorded, phase: str) -> None:  # SendGrid has the request; its answer is lost
        if r.path == "/v3/mail/send" and phase == "answered-by-prism":
            victim.send_signal(signal.SIGKILL)

    sendgrid.hook = kill_on_answer
    victim.communicate(timeout=120)
    assert victim.returncode == -signal.SIGKILL
    sendgrid.hook = None

    # Cron did not run again until 5 minutes before it went out: too late to cancel the batch.
    late = (goes_out.astimezone(dt.UTC) - dt.timedelta(minutes=5)).isoformat(timespec="minutes")
    resumed = newsletter(demo_root, "run", "--now", late, env=env)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "issue 2026-12: 0 accepted, 0 skipped, 0 failed, 1000 unknown (complete" in resumed.stdout
    assert "1000 subscribers are unknown" in resumed.stderr
    with Store(config.settings.state) as store:
        assert store.delivery_counts("2026-12")["unknown"] == 1000
        assert [r.path for r in sendgrid.records if is_cancel(r)] == []  # never a cancel it cannot trust
    again = newsletter(demo_root, "send", "2026-12", env=env)
    assert "(0 sent in this run" in again.stdout  # never resent without the editor's word
    resent = newsletter(demo_root, "send", "2026-12", "--resend-unknown", env=env)
    assert "resending to 1000 subscribers whose delivery was unknown" in resent.stderr
    received = sendgrid.received()
    received.pop("redactie@example.org", None)  # the editors' reports
    assert Counter(received.values()) == {2: 1000}  # SendGrid had the first request: twice, as warned


def test_two_overlapping_sends_deliver_once(demo_root: Path, sendgrid: MockProxy) -> None:
    write_subscribers(demo_root, 3000)
    write_issue(demo_root)
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Redactie", env=env).returncode == 0
    full = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "pipeline", "--root", str(demo_root), "send", "2026-12"]
    sendgrid.hook = latency
    both = [subprocess.Popen(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read().decode(), p.stderr.read().decode()) for p in both]  # type: ignore[union-attr]
    busy = [r for r in results if "is already running" in r[2]]
    assert len(busy) <= 1
    received = sendgrid.received()
    received.pop("redactie@example.org", None)
    assert len(received) == 3000 and set(received.values()) == {1}


def test_two_hosts_sharing_postgresql_killed_at_random_deliver_once_nobody_unknown(
    tmp_path: Path, postgres: object, sendgrid: MockProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checkouts of one instance ("two hosts") on one PostgreSQL send the same issue at the same
    time, each SIGKILLed at random moments, again and again; then both finish. The send lock is the
    database's (an advisory lock), so only one sends at a time wherever it runs, and the one that
    comes after a kill repairs what the killed one left in doubt."""
    import shutil

    from conftest import DEMO
    from postgres import Cluster

    assert isinstance(postgres, Cluster)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres.new_database())
    hosts = []
    for name in ("host-a", "host-b"):
        root = tmp_path / name
        shutil.copytree(DEMO, root)
        write_subscribers(root, 3000)
        hosts.append(root)
    tests = str(Path(__file__).resolve().parent)
    full = {**os.environ, "SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    full["PYTHONPATH"] = os.pathsep.join([str(Path(tests).parent), tests])
    sendgrid.hook = latency
    rng = random.Random(23)

    def start(root: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(root), str(BATCH)], env=full, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    kills = 0
    for _round in range(8):
        # The kill comes after one to three more requests (and a random moment more), so that it
        # lands mid-send however fast the send runs; or after 5 s, when nothing more is sent.
        sent = len(sendgrid.mail_sends) + rng.randint(1, 3)
        running = [start(root) for root in hosts]
        deadline = time.monotonic() + 5
        while len(sendgrid.mail_sends) < sent and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.1))
        # Every host still running: the sender, and one that has not yet found the lock taken (an
        # unkilled sender would finish the whole send in this round).
        for p in running:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
        for p in running:
            p.communicate(timeout=120)
    assert kills >= 4
    outputs = []
    for _ in range(6):  # then both go on, unkilled, until the send is complete
        finals = [start(root) for root in hosts]
        outputs = [p.communicate(timeout=180) for p in finals]
        with Store(load_config(hosts[0]).settings.database) as store:
            if store.sent_issue("2026-12") and store.sent_issue("2026-12").completed:  # type: ignore[union-attr]
                break
    with Store(load_config(hosts[0]).settings.database) as store:
        counts = store.delivery_counts("2026-12")
    assert counts["accepted"] == 3000 and counts["unknown"] == 0, (counts, outputs)
    received = sendgrid.received()
    assert len(received) == 3000 and set(received.values()) == {1}
