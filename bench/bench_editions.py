"""Benchmark: editions of one issue. A list send of a 25-item issue whose agenda is personalised by
province and whose kennis section by theme, to subscribers in the state database, against the local
SendGrid mock (Prism, as bench/bench_send.py):

- "1 edition": nobody chose anything, so everyone gets the issue as it is;
- "50 editions": the readers' choices spread over 10 provinces x 5 themes, each of which changes the
  issue, so the send renders 50 editions (once each) and groups its requests by edition.

    python bench/bench_editions.py                       # 10,000 and 100,000 subscribers, 3 runs each
    python bench/bench_editions.py --sizes 100000 --runs 5 --engines sqlite,postgresql

Each send is a fresh process (its peak memory is its own): wall time of ``send_list`` (rendering the
editions included), the sender's own CPU time in it (Prism's is not counted: on a shared machine the wall
time swings with the other load), mail requests, peak resident memory. Then, in this process, the
rendering of 50 editions of the 25-item issue (``render_editions``), median of several runs. Targets
(issue 26): 50 editions send in at most 2x the time of one, memory flat; 50 editions render in <= 1 s.
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
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout, not an installed one

from postgres import throwaway_cluster  # noqa: E402
from sendgrid_mock import start_prism, stop_prism  # noqa: E402

PROVINCES = ("groningen", "friesland", "drenthe", "overijssel", "flevoland", "gelderland", "utrecht",
             "noord-holland", "zuid-holland", "zeeland")  # fmt: skip
THEMES = ("meedoen", "fijn-thuis", "wonen", "gezondheid", "onderwijs")

# The issue: test_render's 25-item issue, the agenda personalised by province and kennis by theme,
# their entries about the provinces (two each) and themes above, so that every choice changes it.
SETUP = r"""
import dataclasses, datetime as dt
from test_render import big_issue
from pipeline.domain.issues import Approval, Prepared
from pipeline.render import render_editions, render_issue

PROVINCES = {provinces!r}
THEMES = {themes!r}

def personalised_issue(config):
    issue, items = big_issue(config)
    sections = []
    for s in issue.sections:
        by = {{"agenda": "provinces", "kennis": "themes"}}.get(s.id)
        sections.append(dataclasses.replace(s, personalise=by))
    agenda = [e.item for s in issue.sections if s.id == "agenda" for e in s.items]
    kennis = [e.item for s in issue.sections if s.id == "kennis" for e in s.items]
    for i, item_id in enumerate(agenda):
        two = (PROVINCES[2 * i % len(PROVINCES)], PROVINCES[(2 * i + 1) % len(PROVINCES)])
        items[item_id] = dataclasses.replace(items[item_id], provinces=two)
    for i, item_id in enumerate(kennis):
        items[item_id] = dataclasses.replace(items[item_id], themes=(THEMES[i % len(THEMES)],))
    approval = Approval("bench", dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "sha256:bench")
    return dataclasses.replace(issue, sections=tuple(sections), status="approved", approval=approval), items

def prepared_of(config, issue, items):
    rendered = render_issue(config, issue, items)
    def editions(keys):
        return render_editions(config, issue, items, keys, base=rendered)
    return Prepared(issue, items, None, rendered, "sha256:bench", issue.placements(), editions)
"""

# The child: subscribers into the state database, then one send, timed.
CHILD = (
    SETUP
    + r"""
import json, resource, sys, time
from pathlib import Path
from pipeline.deliver import open_transport, send_list, send_lock
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

root, n, editions = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
config = load_config(root)
issue, items = personalised_issue(config)
at = "2026-12-01T09:00:00+00:00"
with Store(config.settings.database) as store:
    rows = []
    for i in range(n):
        choice = i % editions if editions > 1 else None
        provinces = PROVINCES[choice % len(PROVINCES)] if choice is not None else ""
        themes = THEMES[choice // len(PROVINCES)] if choice is not None else ""
        person = (f"lid{{i}}@example.org", f"Lid {{i}}")
        rows.append((*person, "active", "bench", "bench", at, at, at, provinces, themes))
    with store.transaction():  # setup, not what is measured: the list as sign-ups and imports leave it
        store.db.executemany(
            "INSERT INTO subscribers (email, name, status, basis, source, since, created_at, updated_at,"
            " provinces, themes) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    del rows
transport = open_transport(config)
start, start_cpu = time.perf_counter(), time.process_time()
with send_lock(config, issue.id), Store(config.settings.database) as store:
    report = send_list(config, store, issue, transport, prepared=prepared_of(config, issue, items))
total, cpu = time.perf_counter() - start, time.process_time() - start_cpu
with Store(config.settings.database) as store:
    mail_requests = len(store.delivery_batches(issue.id))
    kept = len(store.edition_counts(issue.id))
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"time": total, "cpu": cpu, "mail_requests": mail_requests,
                  "accepted": report.counts["accepted"], "editions": kept, "peak_mb": peak_mb}}))
"""
)


def run_once(base: Path, n: int, editions: int, url: str, database: str | None) -> dict[str, float]:
    root = base / f"n{n}-e{editions}"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    env = {**os.environ, "SENDGRID_API_KEY": "SG.bench", "SENDGRID_HOST": url}
    env.pop("NEWSLETTER_DATABASE_URL", None)
    if database:
        env["NEWSLETTER_DATABASE_URL"] = database
    env["PYTHONPATH"] = os.pathsep.join((str(REPO), str(REPO / "tests")))
    code = CHILD.format(provinces=PROVINCES, themes=THEMES)
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), str(n), str(editions)],
        env=env,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(root)
    if out.returncode != 0:
        raise SystemExit(f"the send failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def render_fifty(runs: int) -> tuple[float, float, int]:
    """Median seconds (wall, and this process's CPU: the machine may be shared) to render 50 editions
    of the 25-item issue, in this process (after a warm-up)."""
    from pipeline.domain.editions import Choice
    from pipeline.infra.instance import load_config

    scope: dict[str, object] = {}
    exec(SETUP.format(provinces=PROVINCES, themes=THEMES), scope)
    config = load_config(REPO / "pipeline" / "demo_instance")
    issue, items = scope["personalised_issue"](config)  # type: ignore[operator]
    prepared = scope["prepared_of"](config, issue, items)  # type: ignore[operator]
    keys = {Choice(frozenset({p}), frozenset({t})).key for p in PROVINCES for t in THEMES}
    prepared.editions(list(keys)[:2])  # warm-up: templates compiled, caches filled
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        rendered = prepared.editions(keys)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (
        statistics.median(times),
        statistics.median(cpu),
        len(rendered) - 1,
    )  # the issue as it is comes along


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite", help="sqlite, postgresql or both (comma-separated)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    rows = []
    with ExitStack() as stack:
        cluster = stack.enter_context(throwaway_cluster()) if "postgresql" in engines else None
        prism = start_prism()
        stack.callback(stop_prism, prism)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for engine in engines:
            for n in sizes:
                medians = {}
                for editions in (1, 50):
                    runs = []
                    for _ in range(args.runs):
                        database = cluster.new_database() if engine == "postgresql" and cluster else None
                        runs.append(run_once(tmp, n, editions, prism.url, database))
                    assert all(r["accepted"] == n for r in runs), "not everyone was accepted"
                    assert all(r["editions"] == editions for r in runs), [r["editions"] for r in runs]
                    medians[editions] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    medians[editions]["all"] = [r["time"] for r in runs]  # type: ignore[assignment]
                rows.append((engine, n, medians))
    render_s, render_cpu, rendered = render_fifty(max(args.runs, 5))

    print(
        f"Editions of one issue: a list send to Prism, median of {args.runs} runs each (targets: 50 editions"
    )
    print("<= 2x one edition's time, memory flat; 50 editions rendered <= 1 s)")
    print()
    print(f"{'engine':<10}  {'subscribers':>11}  {'1 edition':>10}  {'50 editions':>11}  {'ratio':>6}"
          f"  {'sender CPU 1 / 50':>17}  {'requests 1 / 50':>15}"
          f"  {'peak RSS 1 / 50':>16}  runs (s)")  # fmt: skip
    for engine, n, m in rows:
        one, fifty = m[1], m[50]
        spread = f"{'/'.join(f'{x:.1f}' for x in one['all'])} vs {'/'.join(f'{x:.1f}' for x in fifty['all'])}"
        print(f"{engine:<10}  {n:>11,}  {one['time']:>8.2f} s  {fifty['time']:>9.2f} s"
              f"  {fifty['time'] / one['time']:>5.2f}x"
              f"  {one['cpu']:>5.1f} / {fifty['cpu']:<5.1f} s"
          f"  {int(one['mail_requests']):>7} / {int(fifty['mail_requests']):<5}"
              f"  {one['peak_mb']:>6.0f} / {fifty['peak_mb']:<4.0f} MB  {spread}")  # fmt: skip
    print()
    print(f"rendering {rendered} editions of the 25-item issue (in process, median of {max(args.runs, 5)}):"
          f" {render_s:.3f} s wall, {render_cpu:.3f} s CPU  (target <= 1 s)")  # fmt: skip
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
