"""Benchmark: render a 25-item issue, in process and as the `newsletter render` command, and
compare the MJML step with the reference MJML (npm package `mjml`) on Node.js on the same MJML.

    /work/venv/bin/python bench/bench_render.py            # or: .venv/bin/python bench/bench_render.py

Targets (PRODUCT.md): 10 ms in process, 1 s for the command including Python's start. Prints
medians: the machine may be shared, and a median says more than a mean there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the 25-item issue is the tests' (test_render.big_issue)

from test_render import big_issue  # noqa: E402

from pipeline.infra.instance import load_config  # noqa: E402
from pipeline.render import build_view, compile_mjml, email_mjml, render_issue  # noqa: E402

NODE_SCRIPT = r"""
const mjml2html = require(process.argv[2]);
const fs = require('fs');
const source = fs.readFileSync(process.argv[3], 'utf8');
const runs = parseInt(process.argv[4], 10);
(async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve(mjml2html(source));   // warm-up (JIT)
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const out = await Promise.resolve(mjml2html(source));
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (out.errors && out.errors.length && i === 0) console.error(JSON.stringify(out.errors.slice(0, 3)));
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({median: times[Math.floor(times.length / 2)]}));
})();
"""


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def command_instance(tmp: Path) -> Path:
    """A copy of the demo instance with the 25-item issue and its items in the state database."""
    from pipeline.infra.store import Store

    root = tmp / "instance"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    config = load_config(root)
    issue, items = big_issue(config)
    lines = [f"id: {issue.id}", f"subject: {issue.subject}", "send_at: 2026-12-10 09:00", "sections:"]
    for section in issue.sections:
        lines += [f"  - section: {section.id}", "    items:"]
        lines += [f"      - item: {e.item}" for e in section.items]
    (root / "issues").mkdir(exist_ok=True)
    (root / "issues" / f"{issue.id}.yaml").write_text("\n".join(lines) + "\n")
    with Store(config.settings.state) as store, store.transaction():
        for item in items.values():
            store.put_item(item, f"bench-{item.id}", dt.datetime.now(dt.UTC))
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="in-process repetitions (default 200)")
    parser.add_argument("--command-runs", type=int, default=9, help="command repetitions (default 9)")
    args = parser.parse_args()

    config = load_config(REPO / "pipeline" / "demo_instance")
    issue, items = big_issue(config)
    rows: list[tuple[str, float, str]] = []

    total = median_ms(lambda: render_issue(config, issue, items), args.runs)
    view = build_view(config, issue, items)
    mjml = email_mjml(config, view)
    html_kb = len(render_issue(config, issue, items).html.encode()) / 1024
    rows.append(("render_issue, 25 items (Jinja2 x3, MJML, text, web)", total, "target 10 ms"))
    rows.append(("  of which: view (Markdown, rules)", median_ms(lambda: build_view(config, issue, items),
                                                              args.runs), ""))  # fmt: skip
    rows.append(("  of which: Jinja2 -> MJML", median_ms(lambda: email_mjml(config, view), args.runs), ""))
    mrml = median_ms(lambda: compile_mjml(mjml), args.runs)
    rows.append(("  of which: MJML -> HTML (mjml-python 1.4.2)", mrml, ""))

    newsletter = Path(sys.executable).with_name("newsletter")
    with tempfile.TemporaryDirectory() as tmp:
        root = command_instance(Path(tmp))
        cmd = [str(newsletter), "--root", str(root), "render", "2026-12"]
        subprocess.run(cmd, check=True, capture_output=True)
        rows.append(("`newsletter render` command (Python start incl.)",
                     median_ms(lambda: subprocess.run(cmd, check=True, capture_output=True),
                               args.command_runs, warmup=1), "target 1000 ms"))  # fmt: skip

        node, mjml_js = shutil.which("node"), REPO / "node_modules" / "mjml"
        mjml_cli = REPO / "node_modules" / ".bin" / "mjml"
        if node and mjml_js.is_dir():
            source = Path(tmp) / "email.mjml"
            source.write_text(mjml, encoding="utf-8")
            script = Path(tmp) / "bench.js"
            script.write_text(NODE_SCRIPT)
            out = subprocess.run([node, str(script), str(mjml_js), str(source), str(args.runs // 4 or 1)],
                                 check=True, capture_output=True, text=True)  # fmt: skip
            node_ms = json.loads(out.stdout.strip().splitlines()[-1])["median"]
            ratio = f"{node_ms / mrml:.1f}x mjml-python's MJML step"
            rows.append(("reference MJML 5.4.1 on Node, in process", node_ms, ratio))
            cmd_node = [str(mjml_cli), str(source), "-o", str(Path(tmp) / "node.html")]
            node_cmd = median_ms(lambda: subprocess.run(cmd_node, check=True, capture_output=True),
                                 args.command_runs, warmup=1)  # fmt: skip
            rows.append(("reference MJML 5.4.1 as a command (MJML step only)", node_cmd,
                         f"{node_cmd / rows[4][1]:.1f}x the whole render command"))  # fmt: skip
        else:
            print("Node.js or node_modules/mjml missing (npm ci): reference MJML not timed", file=sys.stderr)

    print(f"Render benchmark: 25-item issue, email.html {html_kb:.1f} KB; medians on {os.cpu_count()} cores")
    print(f"{'what':<56} {'median':>10}  note")
    for what, ms, note in rows:
        print(f"{what:<56} {ms:>7.2f} ms  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
