"""Benchmark: the public service under a burst of readers, as `newsletter serve` runs behind the web server.

    .venv/bin/python bench/bench_signup.py [--signups 1000] [--clients 20] [--runs 3]

Each run starts `newsletter serve` on a fresh copy of the demo instance (no SendGrid key: the
confirmation mails go to the outbox), then:

- sign-up: ``--signups`` POSTs to /aanmelden from ``--clients`` concurrent keep-alive connections,
  each with its own forwarded reader address; the latency of each answer, and the time until the
  last confirmation mail is in the outbox (the mail goes out after the answer);
- confirm: every link's POST /bevestig from the same number of connections;
- webhook: five signed calls of 3,300 events each (about 750 KB, the largest batch SendGrid posts);
- the service's peak memory (VmHWM).

It checks what the target is about (PRODUCT.md: 1,000 sign-ups from 20 concurrent clients, none
lost or doubled) and prints medians over the runs; quote them with `uptime`'s load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from servers import running_serve  # noqa: E402
from test_serve import (  # noqa: E402
    SIGNER,
    client,
    confirm_in_parallel,
    confirmation_mails,
    sign_up_in_parallel,
    webhook,
)

from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.infra.store import Store  # noqa: E402


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_run(folder: Path, signups: int, clients: int) -> dict[str, float]:
    root = folder / "demo"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    addresses = [f"lezer{i:05d}@example.org" for i in range(signups)]
    with running_serve(root, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": SIGNER.public_key}) as service:
        start = time.perf_counter()
        took = sign_up_in_parallel(service, addresses, clients)
        answered = time.perf_counter() - start
        tokens = confirmation_mails(root, signups, timeout=300)
        mailed = time.perf_counter() - start
        files = len(list((root / "outbox" / "aanmelden").glob("*.eml")))
        with Store(load_config(root).settings.state) as store:
            pending = store.subscriber_counts().get("pending", 0)
        confirmed = confirm_in_parallel(service, [tokens[a] for a in addresses], clients)
        with Store(load_config(root).settings.state) as store:
            active = store.subscriber_counts().get("active", 0)
        hooks = []
        now = int(time.time())
        with client(service) as http:
            for n in range(5):
                events = [
                    {"sg_event_id": f"d{n}-{i}", "event": "delivered", "email": f"s{i}@example.org",
                     "timestamp": now, "smtp-id": f"<{i}@example.org>", "sg_message_id": f"m{i}.filter0001",
                     "response": "250 OK", "category": ["nieuwsbrief"], "issue": "2026-12"}
                    for i in range(3300)
                ]  # fmt: skip
                t0 = time.perf_counter()
                answer = webhook(http, events)
                hooks.append(time.perf_counter() - t0)
                assert answer.json() == {"stored": 3300, "repeated": 0}, answer.text
        status = Path(f"/proc/{service.process.pid}/status").read_text()
        peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024
    lost = signups - len(tokens)
    doubled = files - len(tokens)
    if lost or doubled or pending != signups or active != signups:
        raise SystemExit(f"FAILED: lost {lost}, doubled {doubled}, pending {pending}, active {active}")
    return {
        "signup median ms": statistics.median(took) * 1000,
        "signup p95 ms": quantile(took, 0.95) * 1000,
        "signup max ms": max(took) * 1000,
        "answers per s": signups / answered,
        "all mails in outbox s": mailed,
        "confirm median ms": statistics.median(confirmed) * 1000,
        "confirm p95 ms": quantile(confirmed, 0.95) * 1000,
        "webhook 3,300 events ms": statistics.median(hooks) * 1000,
        "service peak MB": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            results.append(one_run(Path(folder), args.signups, args.clients))
    load = os.getloadavg()[0]
    print(
        f"{args.signups} sign-ups from {args.clients} concurrent clients, {args.runs} runs (load {load:.1f});"
    )
    print("none lost, none doubled, every one confirmed, in every run\n")
    print(f"| {'measure':<26} | {'median':>9} | {'min':>9} | {'max':>9} |")
    print(f"| {'-' * 26} | {'-' * 9}: | {'-' * 9}: | {'-' * 9}: |")
    for key in results[0]:
        values = [r[key] for r in results]
        print(
            f"| {key:<26} | {statistics.median(values):>9.1f} | {min(values):>9.1f} | {max(values):>9.1f} |"
        )


if __name__ == "__main__":
    main()
