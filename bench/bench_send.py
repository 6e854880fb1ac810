"""Benchmark: a list send to the local SendGrid mock (Prism on SendGrid's spec).

    python bench/bench_send.py            # 10,000 and 100,000 subscribers, 3 runs each, both engines
    python bench/bench_send.py --runs 5 --sizes 1000,100000 --engines sqlite

Each run is a fresh process (so its peak memory is its own) that sends a fresh instance's issue
to N subscribers through the real client, ledger and lock, straight to Prism. It reports the
median wall time, the requests made, the peak resident memory, and the share of the time spent
outside the mock (everything but waiting for Prism's answers). Needs ``npm ci`` and ../shared.

With both engines (the default) every size is sent with the state in SQLite and in PostgreSQL (a
throwaway cluster started here, a fresh database per run, on a Unix socket like the tests'), and a
second table puts the medians side by side with their ratio; the goal is PostgreSQL <= 1.5x SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from postgres import throwaway_cluster  # noqa: E402
from sendgrid_mock import start_prism, stop_prism  # noqa: E402

# The child: one send, timed; the time inside HTTP requests is the mock's (and the loopback's).
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import python_http_client.client as phc
from conftest import list_send  # the approved issue around the fixed content below
from pipeline.infra.instance import load_config
from pipeline.deliver import open_transport, send_lock
from pipeline.domain.models import Rendered
from pipeline.infra.store import Store

import threading
# The mock's own time: wall time during which at least one request is waiting for Prism (requests
# overlap when the send runs two at a time, so their durations are not simply added).
in_mock = 0.0
active = 0
since = 0.0
lock = threading.Lock()
original = phc.Client._make_request
def timed(self, opener, request, timeout=None):
    global in_mock, active, since
    with lock:
        if active == 0:
            since = time.perf_counter()
        active += 1
    try:
        return original(self, opener, request, timeout)
    finally:
        with lock:
            active -= 1
            if active == 0:
                in_mock += time.perf_counter() - since
phc.Client._make_request = timed

root = Path(sys.argv[1])
para = "<p>Beste %naam%, een alinea nieuws over wat partners doen.</p>"
html = "<html><body>" + para * 200 + "</body></html>"  # about 13 kB, like a real issue
text = "Beste %naam%,\n" + "Een alinea nieuws over wat partners doen.\n" * 200
rendered = Rendered("2026-12", "Fietsen en laptops", "Wat partners deden", html, text, "<p>web</p>")
config = load_config(root)
transport = open_transport(config)
start = time.perf_counter()
with send_lock(config, "2026-12"), Store(config.settings.database) as store:
    report = list_send(config, store, rendered, transport, concurrency=int(sys.argv[2]))
total = time.perf_counter() - start
with Store(config.settings.database) as store:
    mail_requests = len(store.delivery_batches("2026-12"))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "time": total, "in_mock": in_mock, "requests": report.requests, "mail_requests": mail_requests,
    "accepted": report.counts["accepted"], "peak_mb": peak_mb,
}))
"""


def instance(base: Path, n: int) -> Path:
    root = base / f"n{n}"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    with (root / "subscribers.csv").open("w", encoding="utf-8") as f:
        f.write("email;name\n")
        for i in range(n):
            f.write(f"lid{i}@example.org;Lid {i}\n")
    return root


def run_once(base: Path, n: int, url: str, concurrency: int, database: str | None) -> dict[str, float]:
    root = instance(base, n)
    env = {**os.environ, "SENDGRID_API_KEY": "SG.bench", "SENDGRID_HOST": url}
    env.pop("NEWSLETTER_DATABASE_URL", None)
    if database:
        env["NEWSLETTER_DATABASE_URL"] = database
    env["PYTHONPATH"] = os.pathsep.join((str(REPO), str(REPO / "tests")))  # conftest.list_send
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(concurrency)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(root)
    if out.returncode != 0:
        raise SystemExit(f"the send failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", default="2,1", help="requests in flight at once (2 is the default)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite, postgresql or both")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    with ExitStack() as stack:
        cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in engines else None
        prism = start_prism()
        stack.callback(stop_prism, prism)
        rows = []
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for n in sizes:
                # The engines take turns, run by run, so that both see the machine's load alike.
                by_engine: dict[str, list[dict[str, float]]] = {engine: [] for engine in engines}
                for _ in range(args.runs):
                    for engine in engines:
                        database = cluster.new_database() if engine == "postgresql" and cluster else None
                        by_engine[engine].append(run_once(Path(tmp), n, prism.url, concurrency, database))
                for engine, runs in by_engine.items():
                    assert all(r["accepted"] == n for r in runs), "not everyone was accepted"
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    outside = statistics.median(1 - r["in_mock"] / r["time"] for r in runs)
                    rows.append((engine, n, concurrency, args.runs, med["time"], int(med["mail_requests"]),
                                 int(med["requests"]), med["peak_mb"], med["time"] - med["in_mock"],
                                 outside, [r["time"] for r in runs]))  # fmt: skip
    header = f"{'engine':<10}  {'subscribers':>11}  {'parallel':>8}  {'runs':>4}  {'time (median)':>13}"
    print(f"{header}  {'mail requests':>13}  {'all requests':>12}  {'peak RSS':>9}  {'outside the mock':>16}")
    for engine, n, conc, runs, t, mail, req, mb, out_s, share, _ in rows:
        print(f"{engine:<10}  {n:>11,}  {conc:>8}  {runs:>4}  {t:>11.2f} s  {mail:>13}  {req:>12}"
              f"  {mb:>6.0f} MB  {out_s:>6.2f} s ({share:>4.0%})")  # fmt: skip
    print(
        "all requests = mail sends + 5 suppression reads + 1 batch (POST /v3/mail/batch);"
        " the machine's other load is not subtracted"
    )
    if len(engines) == 2:
        by = {(e, n, c): (t, times) for e, n, c, _, t, *_rest, times in rows}
        print()
        print("SQLite and PostgreSQL side by side (median wall time of the send; goal: PostgreSQL <= 1.5x)")
        print(
            f"{'subscribers':>11}  {'parallel':>8}  {'SQLite':>9}  {'PostgreSQL':>10}  {'ratio':>6}  runs (s)"
        )
        for (engine, n, c), (t, _) in by.items():
            if engine != "sqlite":
                continue
            pg, pg_runs = by[("postgresql", n, c)]
            lite_runs = by[(engine, n, c)][1]
            spread = f"{'/'.join(f'{x:.1f}' for x in lite_runs)} vs {'/'.join(f'{x:.1f}' for x in pg_runs)}"
            print(f"{n:>11,}  {c:>8}  {t:>7.2f} s  {pg:>8.2f} s  {pg / t:>5.2f}x  {spread}")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
