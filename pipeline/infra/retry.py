"""How long to wait before trying again: one rule for every client (feeds, SendGrid).

A server may say how long with ``Retry-After`` (seconds, or an HTTP date) or, like SendGrid, with
``X-RateLimit-Reset`` (a Unix time). Anything else in those headers ("soon", a negative number, a
date in the past) is ignored, never an error: the wait falls back to exponential backoff with full
jitter, which spreads out several clients that hit the same limit at once.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from typing import Protocol


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for, or None when it says nothing usable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def reset_at(value: str | None, now: float | None = None) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` Unix time, or None when it is unusable or past."""
    try:
        wait = float(value or "") - (time.time() if now is None else now)
    except ValueError:
        return None
    return wait if math.isfinite(wait) and wait > 0 else None


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full jitter: a random wait between 0 and ``base * 2**(attempt - 1)``, at most ``cap``."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


class Headers(Protocol):
    def get(self, name: str) -> str | None: ...


def wait_for(
    headers: Headers | None, attempt: int, *, base: float, cap: float, now: float | None = None
) -> float:
    """Seconds to wait after a 429 or 5xx: what the server asked for, else backoff; at most ``cap``."""
    asked = None
    if headers:
        asked = retry_after(headers.get("Retry-After"), now)
        if asked is None:
            asked = reset_at(headers.get("X-RateLimit-Reset"), now)
    if asked is None or asked <= 0:
        asked = backoff(attempt, base, cap)
    return min(max(asked, 0.0), cap)
