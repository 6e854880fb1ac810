"""An item's date comes from its feed, never from the day it was collected (pipeline/collect/dates.py).

feedparser's ISO 8601 reader filled in what a value left out from the machine's clock: "2020/1/10 14:33:00"
became 2020-<this month>-01, and the corpus golden test changed with the month it ran in.
"""

from __future__ import annotations

import datetime as dt
import time
import types

import pytest
from feedparser.datetimes import iso8601

from pipeline.collect import feeds, xmlfeed
from pipeline.collect.feeds import SourceDefaults, ThemeRules, parse_feed

URL = "https://partner.example.nl/feeds/nieuws.rss"
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
UTC = dt.UTC

# Written by hand: the value, and the date a reader of the feed would give it (None: no date).
DATES = [
    ("2020/1/10 14:33:00", dt.datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),  # as forum software writes it
    ("2020.01.10", dt.datetime(2020, 1, 10, tzinfo=UTC)),
    ("2020年1月10日 下午 2:33", dt.datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
    ("2020/1/10 14:33:00 +0800", dt.datetime(2020, 1, 10, 6, 33, tzinfo=UTC)),
    ("2020/1/10 12:05 AM", dt.datetime(2020, 1, 10, 0, 5, tzinfo=UTC)),
    ("2020/13/40", None),  # no such day
    ("--01-10", None),  # no year: it got this year
    ("2020-W02", None),  # a week: it got this month
    ("2020-01-10T14:33:00+08:00", dt.datetime(2020, 1, 10, 6, 33, tzinfo=UTC)),  # read as before
    ("2020-01", dt.datetime(2020, 1, 1, tzinfo=UTC)),
    ("Wed, 25 Nov 2026 10:00:00 +0100", dt.datetime(2026, 11, 25, 9, tzinfo=UTC)),
]


def item(pub: str, head: str = "") -> feeds.Item:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0"><channel><title>P</title>'
        f"<item><title>T</title><link>https://partner.example.nl/a</link><pubDate>{pub}</pubDate>"
        "<description>Tekst</description></item></channel></rss>"
    ).encode()
    (only,) = parse_feed(body, URL, SourceDefaults("s"), ThemeRules(), NOW).items
    return only


@pytest.mark.parametrize(("value", "expected"), DATES)
def test_a_date_is_read_as_written_on_both_paths(value: str, expected: dt.datetime | None):
    assert xmlfeed._date(value) == expected
    # Plain RSS takes the fast path; with a DOCTYPE, feedparser reads the whole feed. An item without a
    # date gets the moment it was first seen, as before.
    assert item(value).published == item(value, head="<!DOCTYPE rss>").published == (expected or NOW)


@pytest.mark.parametrize("today", [(2026, 12, 7), (2027, 3, 28), (2031, 7, 1)])
def test_no_date_depends_on_the_machines_clock(monkeypatch: pytest.MonkeyPatch, today: tuple[int, int, int]):
    """feedparser's ISO 8601 reader asks ``time.gmtime()`` for what a value leaves out: given another
    today, every date in the table reads the same."""
    clock = time.struct_time((*today, 12, 0, 0, 0, 1, 0))
    fake = types.SimpleNamespace(gmtime=lambda *a: clock, mktime=time.mktime, localtime=time.localtime)
    monkeypatch.setattr(iso8601, "time", fake)
    for value, expected in DATES:
        assert xmlfeed._date(value) == expected, value
        assert item(value, head="<!DOCTYPE rss>").published == (expected or NOW), value
