"""Dutch dates and times as newsletters write them: "donderdag 10 december 2026, 19.30 uur".

Written out by hand rather than through ``locale``: a server's locale is rarely ``nl_NL``, and
``setlocale`` is process-wide state that would change every other stage's output as well.
Dutch writes weekdays and months in lower case and separates hours and minutes with a dot.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip


def _local(value: dt.datetime, tz: ZoneInfo | None) -> dt.datetime:
    # A naive datetime is taken to be in the instance's zone already.
    return value.astimezone(tz) if tz is not None and value.tzinfo is not None else value


def date(value: dt.date, *, weekday: bool = True) -> str:
    """``donderdag 10 december 2026`` (or ``10 december 2026`` without the weekday)."""
    text = f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    return f"{WEEKDAYS[value.weekday()]} {text}" if weekday else text


def month(value: dt.date) -> str:
    """``december 2026``."""
    return f"{MONTHS[value.month - 1]} {value.year}"


def clock(value: dt.time | dt.datetime) -> str:
    """``19.30`` (24-hour clock, a dot between hours and minutes, as Dutch style guides write it)."""
    return f"{value.hour}.{value.minute:02d}"


def time(value: dt.time | dt.datetime) -> str:
    """``19.30 uur``."""
    return f"{clock(value)} uur"


def datetime(value: dt.datetime, tz: ZoneInfo | None = None) -> str:
    """``donderdag 10 december 2026, 19.30 uur``, in ``tz`` when given."""
    local = _local(value, tz)
    return f"{date(local)}, {time(local)}"


def _all_day(value: dt.datetime) -> bool:
    # Events given as a date only arrive as midnight; "0.00 uur" would be wrong, not precise.
    return (value.hour, value.minute, value.second) == (0, 0, 0)


def span(starts: dt.datetime, ends: dt.datetime | None = None, tz: ZoneInfo | None = None) -> str:
    """When an event takes place, as short as stays unambiguous.

    ``donderdag 10 december 2026, 19.30-21.30 uur`` on one day;
    ``donderdag 10 december 2026, 19.30 uur tot vrijdag 11 december 2026, 12.00 uur`` over several;
    ``donderdag 10 december 2026`` for an all-day event.
    """
    start = _local(starts, tz)
    end = _local(ends, tz) if ends is not None else None
    if _all_day(start) and (end is None or _all_day(end)):
        # A date-only end is the last day, as people write it ("10 t/m 12 december").
        if end is None or end.date() <= start.date():
            return date(start)
        return f"{date(start)} tot en met {date(end)}"
    if end is None or end <= start:
        return datetime(start)
    if end.date() == start.date():
        # An en dash between the times, as in "19.30–21.30 uur".
        return f"{date(start)}, {clock(start)}–{clock(end)} uur"
    return f"{datetime(start)} tot {datetime(end)}"
