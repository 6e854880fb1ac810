"""The crash test: SIGKILL the sending process at many points of a send to 5,000 subscribers,
run it again each time, and prove that every subscriber was accepted by SendGrid exactly once,
except those the ledger reports as unknown (at most once).

Kill points, in turn: at a random moment (reading the list, between two commits, during a
request); the moment a mail-send request arrives, with it then reaching SendGrid (accepted, the
answer never read) or not (never delivered); and the moment SendGrid accepted it, before the
answer got back. The proxy records what Prism accepted: that is what SendGrid would deliver.
"""

from __future__ import annotations

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

from sendgrid_mock import API_KEY, MockProxy, Recorded  # noqa: E402
from test_deliver import write_subscribers  # noqa: E402

from pipeline.core.config import load_config  # noqa: E402
from pipeline.core.store import Store  # noqa: E402

pytestmark = [pytest.mark.mock, pytest.mark.slow]

SUBSCRIBERS = 5000
KILLS = 30
# Smaller than the real 1000 so that one send has 100 requests to be killed around; the batch size
# changes nothing in the ledger's logic (test_deliver_sendgrid covers batches of 1000).
BATCH = 50

# The sender, as a separate process that can be killed: the library entry point under the lock.
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
transport = open_transport(config, policy=RetryPolicy(attempts=4, base=0.01, timeout=20))
rendered = Rendered("2026-12", "Onderwerp", "", "<p>Beste %naam%</p>", "Beste %naam%", "<p>web</p>")
with send_lock(config, "2026-12"), Store(config.settings.state) as store:
    report = list_send(config, store, rendered, transport, batch_size=int(sys.argv[2]))
print(dict(report.counts), report.sent_now)
"""


def latency(r: Recorded, phase: str) -> None:
    # A little network time, so that a random kill lands in a request as often as between two.
    if r.path == "/v3/mail/send" and phase == "answered-by-prism":
        time.sleep(0.05)


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


def test_sigkill_at_many_points_then_resume(demo_root: Path, sendgrid: MockProxy) -> None:
    write_subscribers(demo_root, SUBSCRIBERS)
    # The mock's suppression lists name user1@example.com: it must never be mailed.
    with (demo_root / "subscribers.csv").open("a", encoding="utf-8") as f:
        f.write("user1@example.com;Onderdrukt\n")
    config = load_config(demo_root)
    sender = Sender(demo_root, sendgrid)
    rng = random.Random(20261210)
    kinds: Counter[str] = Counter()
    kills = 0
    modes = ["in-send", "on-arrival-delivered", "startup", "in-send", "on-arrival-lost", "after-accept"]

    for round_ in range(KILLS):
        mode = modes[round_ % len(modes)]
        target = len(sendgrid.mail_sends) + rng.randint(0, 1)  # the mail send of this run to kill at
        delay = rng.uniform(0.0, 0.1) if mode == "in-send" else rng.uniform(0.05, 0.5)
        fired = threading.Event()
        timers: list[threading.Timer] = []

        def kill(fired: threading.Event = fired) -> None:
            fired.set()
            sender.kill()

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
            if r.path != "/v3/mail/send" or fired.is_set():
                return
            latency(r, phase)
            if mode == "in-send" and phase == "received" and r.index >= 0 and not timers:
                # A random moment once sending is under way: in a request, a commit, or between.
                timers.append(threading.Timer(delay, kill))
                timers[-1].start()
            elif len(sendgrid.mail_sends) - 1 >= target and (
                (mode.startswith("on-arrival") and phase == "received")
                or (mode == "after-accept" and phase == "answered-by-prism")
            ):
                kill()

        def fault(r: Recorded, mode: str = mode, fired: threading.Event = fired) -> str | None:
            # Killed on arrival, and the request never reaches SendGrid.
            return "refuse" if fired.is_set() and mode == "on-arrival-lost" else None

        sendgrid.hook = hook
        sendgrid.fault = fault
        process = sender.start()
        if mode == "startup":  # reading the list, the suppressions, the first commits
            try:
                process.wait(timeout=delay + 0.3)
            except subprocess.TimeoutExpired:
                kill()
        else:
            process.wait(timeout=60)
        for t in timers:
            t.cancel()
        sendgrid.hook = None
        sendgrid.fault = None
        if fired.is_set():
            kills += 1
            kinds[mode] += 1
        now = _counts(config)
        if now["pending"] == now["in_flight"] == 0 and now["accepted"] and not fired.is_set():
            break  # the send finished before this round's kill point

    # The final, undisturbed run: finishes the send and reports what stayed unknown.
    process = sender.start()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]

    counts = _counts(config)
    with Store(config.settings.state) as store:
        states = store.delivery_states("2026-12")
        assert store.sent_issue("2026-12").completed_at is not None
    accepted_by_sendgrid = Counter(a for r in sendgrid.accepted_by_prism() for a in r.recipients)

    assert counts["pending"] == counts["in_flight"] == counts["failed"] == 0
    assert counts["accepted"] + counts["unknown"] == SUBSCRIBERS
    assert states["user1@example.com"] == "skipped" and accepted_by_sendgrid["user1@example.com"] == 0
    wrong = {
        a: (state, accepted_by_sendgrid[a])
        for a, state in states.items()
        if (state == "accepted" and accepted_by_sendgrid[a] != 1)
        or (state == "unknown" and accepted_by_sendgrid[a] > 1)
    }
    assert wrong == {}, f"{len(wrong)} subscribers broke exactly-once"
    assert kills >= 15, f"only {kills} kills landed"
    # A further run sends nothing at all.
    mail_sends = len(sendgrid.mail_sends)
    process = sender.start()
    process.communicate(timeout=60)
    assert len(sendgrid.mail_sends) == mail_sends

    unknown_delivered = sum(1 for a, s in states.items() if s == "unknown" and accepted_by_sendgrid[a] == 1)
    print(
        f"\ncrash test: {kills} SIGKILLs ({dict(kinds)}), {len(sendgrid.mail_sends)} mail requests;"
        f" accepted exactly once: {counts['accepted']}; unknown: {counts['unknown']}"
        f" (of which SendGrid had {unknown_delivered}); skipped: {counts['skipped']}; sent twice: 0"
    )


def _counts(config: object) -> dict[str, int]:
    with Store(config.settings.state) as store:  # type: ignore[attr-defined]
        return store.delivery_counts("2026-12")
