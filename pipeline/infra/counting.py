"""The requests a transport made (SendGrid's HTTP requests, retries included; the outbox's writes),
counted safely from the worker threads that make them: what a send reports as its requests."""

from __future__ import annotations

import threading


class CountsRequests:
    """``requests``: how many requests this transport made so far."""

    def __init__(self) -> None:
        self._count_lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        return self._requests

    def _counted(self) -> None:
        with self._count_lock:
            self._requests += 1
