"""The one rule for waiting before a retry (feeds and SendGrid): any header value is safe."""

from __future__ import annotations

import email.utils
import time

import pytest

from pipeline.infra.retry import backoff, retry_after, wait_for

NOW = 1_800_000_000.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("7") == 7
    assert retry_after(" 0 ") == 0
    assert retry_after("2.5") == 2.5
    later = email.utils.formatdate(NOW + 90, usegmt=True)
    assert retry_after(later, now=NOW) == 90
    earlier = email.utils.formatdate(NOW - 90, usegmt=True)
    assert retry_after(earlier, now=NOW) == 0  # a date that passed: go now


@pytest.mark.parametrize(
    "value", [None, "", "  ", "soon", "-5", "nan", "inf", "Tue, 99 Foo 2026", "1e999", "\x00", "12:00"]
)
def test_retry_after_that_says_nothing_usable_is_none_never_an_error(value: str | None) -> None:
    assert retry_after(value, now=NOW) is None


def test_waits_honour_retry_after_and_ratelimit_reset_within_the_cap() -> None:
    assert wait_for({"Retry-After": "7"}, 1, base=0.5, cap=30) == 7
    assert wait_for({"Retry-After": "3600"}, 1, base=0.5, cap=30) == 30
    reset = str(int(time.time()) + 10)
    assert 9 <= wait_for({"X-RateLimit-Reset": reset}, 1, base=0.5, cap=30) <= 10
    # A reset in the past (Prism's example) falls back to backoff with jitter: 0 .. base * 2**(n-1).
    waits = [wait_for({"X-RateLimit-Reset": "1392815263"}, 3, base=0.5, cap=30) for _ in range(200)]
    assert all(0 <= w <= 2 for w in waits) and len(set(waits)) > 1


def test_a_retry_after_of_nonsense_falls_back_to_backoff() -> None:
    waits = [wait_for({"Retry-After": "soon"}, 2, base=1.0, cap=60) for _ in range(200)]
    assert all(0 <= w <= 2 for w in waits) and max(waits) > 0.5


def test_backoff_doubles_up_to_the_cap() -> None:
    assert max(backoff(1, 1.0, 60) for _ in range(500)) <= 1
    assert max(backoff(4, 1.0, 60) for _ in range(500)) > 4  # up to 8
    assert max(backoff(20, 1.0, 60) for _ in range(500)) <= 60
