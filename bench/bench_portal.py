"""Benchmark: 300 partners sign in to the partner portal and submit a story within 5 minutes.

    .venv/bin/python bench/bench_portal.py [--partners 300] [--window 30] [--runs 3]

Each run starts `newsletter serve --now ...` on a fresh copy of the demo instance with ``--partners``
extra partners, each with a contact address (no SendGrid key: the sign-in mails go to the outbox).
The partners start at even intervals over ``--window`` seconds: the 5 minutes of PRODUCT.md pressed
into 30 seconds (10 times as dense; the sign-in links last 30 minutes on the server's own clock, which
starts at --now). Each partner, on its own keep-alive connection and forwarded client address, does
what a person does: the sign-in page, the address posted, the link from the outbox opened, the
button pressed, the story form loaded, the story posted. Every answer's time is kept; at the end
every story must be on disk, valid (`newsletter validate`), and none may be lost or doubled.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from servers import running_serve  # noqa: E402

STEPS = (
    "sign-in page",
    "ask for a link",
    "open the link",
    "press the button",
    "story form",
    "save the story",
)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def instance(folder: Path, partners: int) -> Path:
    root = folder / "demo"
    shutil.copytree(REPO / "pipeline" / "demo_instance", root)
    sources = root / "sources.yaml"
    extra = "".join(
        f"  - {{id: bench-{i:03d}, name: Partner {i:03d}, sector: gemeenten, province: utrecht,"
        f" contacts: [p{i:03d}@bench.example.org]}}\n"
        for i in range(partners)
    )
    text = sources.read_text(encoding="utf-8").replace("\nsources:\n", f"\n{extra}sources:\n", 1)
    sources.write_text(text, encoding="utf-8")
    return root


class Outbox:
    """Watches outbox/partners/ and hands each address its link as soon as the mail is there."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "outbox" / "partners"
        self.links: dict[str, str] = {}
        self.arrived: dict[str, float] = {}
        self.seen: set[str] = set()
        self.changed = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self) -> None:
        while not self.stop:
            for path in self.folder.glob("*.eml") if self.folder.exists() else ():
                if path.name in self.seen:
                    continue
                self.seen.add(path.name)
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                link = re.search(
                    r"(/partners/inloggen\?token=[\w-]+)", message.get_body(("plain",)).get_content()
                )
                with self.changed:
                    self.links[str(message["To"])] = link.group(1) if link else ""
                    self.arrived[str(message["To"])] = time.perf_counter()
                    self.changed.notify_all()
            time.sleep(0.02)

    def wait(self, address: str, timeout: float = 120) -> str:
        with self.changed:
            self.changed.wait_for(lambda: address in self.links, timeout)
            return self.links[address]


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    if not found:
        raise AssertionError(f"no field {name}")
    return found.group(1)


def partner(base: str, box: Outbox, i: int, start: float) -> dict[str, float | bool]:
    time.sleep(max(0.0, start - time.perf_counter()))
    address = f"p{i:03d}@bench.example.org"
    took: dict[str, float | bool] = {}
    headers = {"x-forwarded-for": f"10.{i // 250}.{i % 250}.1"}

    def timed(http: httpx.Client, step: str, method: str, url: str, **kw: Any) -> httpx.Response:
        t0 = time.perf_counter()
        try:
            answer = http.request(method, url, **kw)
        except httpx.RemoteProtocolError:
            # The server closed an idle kept-alive connection as the request went out (its keep-alive
            # is 5 s): a browser sends a GET again on a new connection, and so does this client.
            if method != "GET":
                raise
            took["retried"] = True
            answer = http.request(method, url, **kw)
        took[step] = time.perf_counter() - t0
        return answer

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, headers=headers, timeout=120, follow_redirects=False)

    with client() as http:
        page = timed(http, STEPS[0], "GET", "/partners/")
        data = {"csrf_token": field(page.text, "csrf_token"), "email": address}
        asked = timed(http, STEPS[1], "POST", "/partners/", data=data)
        assert asked.status_code == 200
    sent = time.perf_counter()
    link = box.wait(address)
    took["mail in outbox"] = box.arrived[address] - sent
    with client() as http:  # the link opens from the mail: a new connection, as in a browser
        button = timed(http, STEPS[2], "GET", link)
        data = {"csrf_token": field(button.text, "csrf_token"), "token": field(button.text, "token")}
        signed = timed(http, STEPS[3], "POST", "/partners/inloggen", data=data)
        assert signed.status_code == 303, signed.text
        form = timed(http, STEPS[4], "GET", "/partners/verhalen/nieuw")
        story = {
            "csrf_token": field(form.text, "csrf_token"), "id": "", "loaded": "",
            "title": f"Verhaal van partner {i:03d}",
            "summary": "Kinderen doen mee, ook als er thuis weinig geld is.",
            "url": f"https://www.example.org/partners/{i:03d}/verhaal", "kind": "story", "themes": "meedoen",
            "published": "2026-12-01",
        }  # fmt: skip
        saved = timed(http, STEPS[5], "POST", "/partners/verhalen", data=story, files={"image": ("", b"")})
        took["saved"] = saved.status_code == 303
    return took


def one_run(folder: Path, partners: int, window: float) -> dict[str, float]:
    root = instance(folder, partners)
    with running_serve(root, "--now", "2026-12-07 10:00", env={"NEWSLETTER_LANG": "en"}) as service:
        box = Outbox(root)
        begin = time.perf_counter() + 0.5
        starts = [begin + window * i / partners for i in range(partners)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=partners) as pool:
            results = list(pool.map(lambda i: partner(service.base, box, i, starts[i]), range(partners)))
        wall = time.perf_counter() - t0
        box.stop = True
    files = sorted((root / "submissions").glob("bench-*/*.yaml"))
    saved = sum(1 for r in results if r["saved"])
    valid = subprocess.run(
        [sys.executable, "-m", "pipeline", "--root", str(root), "validate", str(root / "submissions")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO), "NEWSLETTER_LANG": "en"},
    )  # fmt: skip
    if saved != partners or len(files) != partners or valid.returncode != 0:
        raise SystemExit(f"FAILED: {saved} saved, {len(files)} files, validate: {valid.stdout[-500:]}")
    answers = [float(r[s]) for r in results for s in STEPS]
    out = {
        "every answer median ms": statistics.median(answers) * 1000,
        "every answer p95 ms": quantile(answers, 0.95) * 1000,
    }
    for step in (*STEPS, "mail in outbox"):
        values = [float(r[step]) for r in results]
        out[f"{step} median ms"] = statistics.median(values) * 1000
        out[f"{step} p95 ms"] = quantile(values, 0.95) * 1000
    out["GETs sent again"] = float(sum(1 for r in results if r.get("retried")))
    out["whole run s"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=300)
    parser.add_argument("--window", type=float, default=30.0, help="seconds over which the partners start")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            results.append(one_run(Path(folder), args.partners, args.window))
    load = os.getloadavg()[0]
    print(
        f"{args.partners} partners starting over {args.window:.0f} s"
        f" (5 minutes pressed {300 / args.window:.0f}x),"
        f" {args.runs} runs (load {load:.1f}); every story saved, on disk once and valid, in every run\n"
    )
    print(f"| {'measure':<30} | {'median':>9} | {'min':>9} | {'max':>9} |")
    print(f"| {'-' * 30} | {'-' * 9}: | {'-' * 9}: | {'-' * 9}: |")
    for key in results[0]:
        values = [r[key] for r in results]
        print(
            f"| {key:<30} | {statistics.median(values):>9.1f} | {min(values):>9.1f} | {max(values):>9.1f} |"
        )


if __name__ == "__main__":
    main()
