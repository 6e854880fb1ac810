"""Crash tests: the sending process killed with SIGKILL again and again, at random moments and at the
worst ones (a request on its way, its answer on the way back, a cancel half done), then resumed.

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
from pathlib import Path

import pytest

pytest.register_assert_rewrite("sendgrid_mock")

from conftest import newsletter, write_issue  # noqa: E402
from sendgrid_mock import API_KEY, MockProxy, Recorded  # noqa: E402
from test_deliver import write_subscribers  # noqa: E402

from pipeline.core.config import load_config  # noqa: E402
from pipeline.core.store import Store  # noqa: E402

pytestmark = [pytest.mark.mock, pytest.mark.slow]

SUBSCRIBERS = 8000
KILLS = 24  # at least this many SIGKILLs land, and at least one of them in a cancel
# Smaller than the real 1000, so that one attempt has 40 requests to be killed around; the batch
# size changes nothing in the ledger's logic (test_deliver_sendgrid covers batches of 1000).
BATCH = 200

# The sender, as a separate process that can be killed: the library entry point under the lock.
# Requests time out after 2 s and settle 0.3 s later, so that a repair waits a moment, not 90 s.
DRIVER = """
import sys
from pathlib import Path
from conftest import list_send  # the approved issue around the fixed content below
from pipeline.core.config import load_config
from pipeline.deliver import open_transport, send_lock
from pipeline.core.models import Rendered
from pipeline.core.sendgrid import RetryPolicy
from pipeline.core.store import Store

config = load_config(Path(sys.argv[1]))
transport = open_transport(config, policy=RetryPolicy(attempts=4, base=0.01, timeout=2, settle=0.3))
rendered = Rendered("2026-12", "Onderwerp", "", "<p>Beste %naam%</p>", "Beste %naam%", "<p>web</p>")
with send_lock(config, "2026-12"), Store(config.settings.state) as store:
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


def latency(r: Recorded, phase: str) -> None:
    # A little network time, so that a random kill lands in a request as often as between two.
    if r.path == "/v3/mail/send" and phase == "answered-by-prism":
        time.sleep(0.03)


def is_cancel(r: Recorded) -> bool:
    return r.method == "POST" and r.path == "/v3/user/scheduled_sends"


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
    kills = rounds = 0

    while (kills < KILLS or kinds["in-cancel"] + kinds["after-cancel"] == 0) and rounds < 150:
        mode = MODES[rounds % len(MODES)]
        rounds += 1
        target = len(sendgrid.mail_sends) + rng.randint(0, 2)  # the mail send of this run to kill at
        delay = rng.uniform(0.0, 0.15) if mode == "in-send" else rng.uniform(0.2, 0.9)
        fired = threading.Event()
        timers: list[threading.Timer] = []
        in_cancel: list[bool] = []
        process = sender.start()

        def kill(
            fired: threading.Event = fired,
            in_cancel: list[bool] = in_cancel,
            cancel: bool = False,
            process: subprocess.Popen[bytes] = process,
        ) -> None:
            # Only this round's process: a late call from a proxy thread must not kill the next one.
            if process.poll() is None and not fired.is_set():
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
            timers: list[threading.Timer] = timers,
            kill: Callable[[], None] = kill,
        ) -> None:
            if fired.is_set():
                return
            latency(r, phase)
            sends = len(sendgrid.mail_sends) - 1
            if mode == "in-cancel" and is_cancel(r) and phase == "received":
                kill(cancel=True)  # the intent is committed, SendGrid gets the cancel, the answer is lost
            elif mode == "after-cancel" and is_cancel(r) and phase == "answered-by-prism":
                kill(cancel=True)  # cancelled at SendGrid, not yet confirmed or written down
            elif r.path != "/v3/mail/send":
                return
            elif mode == "in-send" and phase == "received" and not timers:
                # A random moment once sending is under way: in a request, a commit, or between.
                timers.append(threading.Timer(delay, kill))
                timers[-1].start()
            elif sends >= target + (6 if mode.endswith("cancel") else 0) and (
                (mode.startswith("on-arrival") and phase == "received")
                or (mode in ("after-accept", "in-cancel", "after-cancel") and phase == "answered-by-prism")
            ):
                kill()  # (the cancel modes fall back to a request when no cancel comes soon)

        def fault(r: Recorded, mode: str = mode, fired: threading.Event = fired) -> str | None:
            # Killed on arrival, and the request never reaches SendGrid.
            return "refuse" if fired.is_set() and mode == "on-arrival-lost" else None

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

    assert kills >= KILLS, f"only {kills} kills landed ({dict(kinds)})"
    assert kinds["in-cancel"] + kinds["after-cancel"] >= 1, f"no kill landed in a cancel ({dict(kinds)})"
    assert counts["pending"] == counts["in_flight"] == counts["failed"] == counts["unknown"] == 0
    assert counts["accepted"] == SUBSCRIBERS and counts["skipped"] == 1
    assert states["user1@example.com"] == "skipped" and received["user1@example.com"] == 0
    assert len(received) == SUBSCRIBERS and set(received.values()) == {1}, (
        "someone got it twice or not at all"
    )
    assert len(sendgrid.state.held_statuses()) <= 10  # within SendGrid's limit of cancels
    # A further run sends nothing at all.
    mail_sends = len(sendgrid.mail_sends)
    sender.start().communicate(timeout=60)
    assert len(sendgrid.mail_sends) == mail_sends

    print(
        f"\ncrash test: {SUBSCRIBERS} subscribers, {kills} SIGKILLs in {rounds} rounds ({dict(kinds)});"
        f" {len(attempts)} batches, {len({c.body['batch_id'] for c in cancels})} cancelled;"
        f" {mail_sends} mail requests; served exactly once: {len(received)}; unknown: {counts['unknown']};"
        f" twice: 0; the suppressed address: never"
    )


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
    goes_out = (dt.datetime.now(tz) + dt.timedelta(minutes=45)).replace(second=0, microsecond=0)
    write_issue(demo_root, send_at=f"{goes_out:%Y-%m-%d %H:%M}")
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
    late = (goes_out - dt.timedelta(minutes=5)).isoformat(timespec="minutes")
    resumed = newsletter(demo_root, "run", "--now", late, env=env)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "issue 2026-12: 0 accepted, 0 skipped, 0 failed, 1000 unknown (complete" in resumed.stdout
    assert "1000 subscriber(s) are unknown" in resumed.stderr
    with Store(config.settings.state) as store:
        assert store.delivery_counts("2026-12")["unknown"] == 1000
        assert [r.path for r in sendgrid.records if is_cancel(r)] == []  # never a cancel it cannot trust
    again = newsletter(demo_root, "send", "2026-12", env=env)
    assert "(0 sent in this run" in again.stdout  # never resent without the editor's word
    resent = newsletter(demo_root, "send", "2026-12", "--resend-unknown", env=env)
    assert "resending to 1000 subscriber(s) whose delivery was unknown" in resent.stderr
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
