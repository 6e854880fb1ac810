"""The pipeline's services as a user runs them: a separate process on a free loopback port.

    with running_studio(root, "2026-12") as studio:
        httpx.get(studio.url)           # the page the command printed
    with running_serve(root, env={"SENDGRID_WEBHOOK_PUBLIC_KEY": key}) as service:
        httpx.get(f"{service.base}/aanmelden")

Each command prints its address first; the helper waits for that line (bounded), and stops the
process at the end (SIGTERM, as Ctrl-C does), so no server outlives its test.
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

    def errors(self) -> str:
        """What the process wrote to standard error so far (read after it stopped)."""
        return self.process.stderr.read() if self.process.stderr else ""


Service = Studio  # `newsletter serve`: url is the sign-up page


@contextmanager
def running(
    root: Path, args: list[str], address: str, *, env: Mapping[str, str] | None = None
) -> Iterator[Studio]:
    """``newsletter --root ROOT ARGS...`` until the end of the block; ``address``: a regular
    expression for the line it prints, with the base URL and the path as its two groups."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SENDGRID_", "NEWSLETTER_STUDIO_"))}
    full["PYTHONPATH"] = str(REPO)
    full.update(env or {})
    cmd = [sys.executable, "-m", "pipeline", "--root", str(root), *args]
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
                raise AssertionError(f"{args[0]} printed no address within 30 s: {printed}") from None
            if not line:
                err = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"{args[0]} stopped: {printed} {err}")
            printed.append(line.rstrip("\n"))
            m = re.match(address, line.strip())
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


@contextmanager
def running_studio(
    root: Path, *args: str, env: Mapping[str, str] | None = None, now: str | None = DEMO_NOW
) -> Iterator[Studio]:
    extra = ["--now", now] if now else []
    with running(root, ["studio", *args, *extra], r"Studio: (http://[^/]+)(/\S*)$", env=env) as studio:
        yield studio


@contextmanager
def running_serve(root: Path, *args: str, env: Mapping[str, str] | None = None) -> Iterator[Service]:
    """``newsletter serve --port 0`` (a free port), with ``args`` (options) after it."""
    with running(root, ["serve", "--port", "0", *args], r"Serving (http://[^/]+)(/\S*) ", env=env) as service:
        yield service
