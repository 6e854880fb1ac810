"""Dates feedparser would take from the machine's clock: read from the feed instead, or not at all.

feedparser's ISO 8601 reader fills in what a value leaves out from today. "2020/1/10 14:33:00" (as Chinese
and Japanese forum software writes it) matches only its bare-year pattern and became 2020-<this month>-01;
"--01-10" got this year; "2020-W02" this month. An item's date then depended on the day it was collected,
and so did the golden test. ``install`` puts two handlers in feedparser's list, for both ways of reading
a feed (feeds.py and the fast path):
- first, year/month/day with slashes, dots or 年月日, and a time after it, read as written;
- in place of its ISO 8601 reader, the same reader kept only where the value names the year and the month
  (or the day of the year); anything else gets no date (an item without a date gets its first-seen day).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from typing import Any

_YMD = re.compile(r"\s*(\d{4})\s*[/.年]\s*(\d{1,2})\s*[/.月]\s*(\d{1,2})\s*日?(.*)", re.DOTALL)
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_ZONE = re.compile(r"(?:gmt|utc)?([+-])(\d{2}):?(\d{2})\s*$")
_AFTERNOON = ("pm", "下午", "午後")
_MORNING = ("am", "上午", "午前")


def year_month_day(value: str) -> time.struct_time | None:
    """``2020/1/10 14:33:00``, ``2020.01.10``, ``2020年1月10日 下午 2:33`` as a UTC time tuple (a zone
    after the time is applied; without one, UTC, as feedparser reads a W3C date without one)."""
    m = _YMD.fullmatch(value)
    if m is None:
        return None
    year, month, day, rest = m.groups()
    rest = rest.lower()
    hour = minute = second = 0
    offset = dt.timedelta()
    clock = _TIME.search(rest)
    if clock is not None:
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if hour < 12 and any(word in rest for word in _AFTERNOON):
            hour += 12
        elif hour == 12 and any(word in rest for word in _MORNING):
            hour = 0
        zone = _ZONE.search(rest, clock.end())
        if zone is not None:
            offset = dt.timedelta(hours=int(zone[2]), minutes=int(zone[3]))
            offset = -offset if zone[1] == "-" else offset
    try:
        stamp = dt.datetime(int(year), int(month), int(day), hour, minute, second) - offset
    except (ValueError, OverflowError):
        return None
    return stamp.timetuple()


def _named_only(iso8601: Any, matches: list[Any]) -> Any:
    """feedparser's ISO 8601 reader, where the value itself names the year and the month or ordinal day
    (its patterns tried in its own order: the first that matches is the one it reads)."""

    def parse_date_iso8601(value: str) -> Any:
        for match in matches:
            m = match(value)
            if m:
                found = m.groupdict()
                if not found.get("year") or not (found.get("month") or found.get("ordinal")):
                    return None  # it would take the rest from today
                return iso8601(value)
        return None

    return parse_date_iso8601


@functools.cache
def install() -> None:
    """Put the handlers in feedparser's list, once a process (the parse workers inherit them)."""
    from feedparser import datetimes
    from feedparser.datetimes import iso8601

    handlers: list[Any] = datetimes._date_handlers
    original = iso8601._parse_date_iso8601
    if original in handlers:  # another feedparser may keep its readers otherwise: then only the first
        handlers[handlers.index(original)] = _named_only(original, iso8601._iso8601_matches)
    handlers.insert(0, year_month_day)
