"""`newsletter studio` as a user runs it: a separate process on a free loopback port.

    with running_studio(root, "2026-12") as studio:
        httpx.get(studio.url)           # the page the command printed

It prints its address first; the helper waits for that line (bounded), and stops the process at
the end (SIGTERM, as Ctrl-C does), so no server outlives its test.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_NOW = "2026-11-26 09:00"  # the demo's clock (pipeline.demo.DEMO_NOW): its events are still ahead


@dataclass
class Studio:
    url: str  # what the command printed: the page, or the list
    base: str  # http://127.0.0.1:PORT
    root: Path
    process: subprocess.Popen[str]
    printed: list[str]


@contextmanager
def running_studio(
    root: Path, *args: str, env: Mapping[str, str] | None = None, now: str | None = DEMO_NOW
) -> Iterator[Studio]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "NEWSLETTER_STUDIO_"))}
    full["PYTHONPATH"] = str(REPO)
    full.update(env or {})
    cmd = [sys.executable, "-m", "pipeline", "--root", str(root), "studio", *args]
    if now:
        cmd += ["--now", now]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full)
    printed: list[str] = []
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"the studio printed no address within 30 s: {printed}") from None
            if not line:
                err = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"the studio stopped: {printed} {err}")
            printed.append(line.rstrip("\n"))
            m = re.match(r"Studio: (http://[^/]+)(/\S*)$", line.strip())
            if m:
                url = m.group(1) + m.group(2)
                yield Studio(url, m.group(1), root, process, printed)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
