"""The agenda: the events that went out in an issue, upcoming ones apart from past ones, each as an
iCalendar file (RFC 5545, made with the ``icalendar`` library) and all of them in ``agenda.ics``,
a calendar to subscribe to.

Times are written in the instance's time zone (Europe/Amsterdam) with its VTIMEZONE, so a calendar
shows 19.30 as 19.30 in Zwolle whatever the reader's own zone. Every value is derived from the
item and the issue it went out in, never from the clock: an event's UID (``ITEM@HOST``) and
DTSTAMP (the send of the first issue that carried it) stay the same, so publishing again rewrites
nothing and a subscribed calendar updates the event instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import icalendar

from pipeline.domain.archive import CALENDAR
from pipeline.domain.config import Config
from pipeline.publish.knowledge import Story

PRODID = "-//Samen tegen Kinderarmoede//newsletter publish//NL"


@dataclass(frozen=True)
class Agenda:
    upcoming: tuple[Story, ...]  # soonest first
    past: tuple[Story, ...]  # latest first


def agenda(shared: tuple[Story, ...], now: dt.datetime) -> Agenda:
    """The events (stories with a start); one that has not ended by ``now`` is upcoming."""
    events = [s for s in shared if s.starts is not None]
    upcoming = sorted((s for s in events if _end(s) >= now), key=lambda s: (_start(s), s.title))
    past = sorted((s for s in events if _end(s) < now), key=lambda s: (_start(s), s.title), reverse=True)
    return Agenda(tuple(upcoming), tuple(past))


def _start(story: Story) -> dt.datetime:
    assert story.starts is not None
    return story.starts


def _end(story: Story) -> dt.datetime:
    return story.ends or _start(story)


def _event(config: Config, story: Story) -> icalendar.Event:
    s = config.settings
    tz = s.timezone
    event = icalendar.Event()
    event.add("uid", f"{story.id}@{urlsplit(s.archive_url).hostname or 'nieuwsbrief'}")
    # The send of the first issue that carried it: stable, unlike the clock.
    event.add("dtstamp", story.issues[-1].sent_at.astimezone(dt.UTC))
    event.add("dtstart", _start(story).astimezone(tz))
    if story.ends is not None and story.ends > _start(story):
        event.add("dtend", story.ends.astimezone(tz))
    event.add("summary", story.title)
    lines = [story.summary] if story.summary else []
    if story.partner:
        lines.append(story.partner.title)
    lines.append(story.url)
    event.add("description", "\n\n".join(lines))
    event.add("url", story.url)
    if story.location:
        event.add("location", story.location)
    return event


@functools.cache
def _timezone(tzid: str) -> bytes:
    """The VTIMEZONE of a zone (icalendar builds it from zoneinfo), made once: the same in every file."""
    return bytes(icalendar.Timezone.from_tzid(tzid).to_ical())


def _calendar(config: Config, name: str, events: Iterable[bytes]) -> bytes:
    """A VCALENDAR of events already serialised (``_ics``), with the zone's VTIMEZONE first."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    tzid = str(config.settings.timezone)
    cal.add("x-wr-timezone", tzid)
    head, end = bytes(cal.to_ical()).split(b"END:VCALENDAR")
    return head + _timezone(tzid) + b"".join(events) + b"END:VCALENDAR" + end


def _ics(config: Config, story: Story) -> bytes:
    return bytes(_event(config, story).to_ical())


def calendars(config: Config, events: Agenda) -> dict[str, bytes]:
    """Each event's .ics file (by its path) and agenda.ics: every event, upcoming and past (a calendar
    keeps what happened), earliest first. Each event is serialised once for both."""
    stories = sorted((*events.upcoming, *events.past), key=lambda s: (_start(s), s.id))
    one = {s.id: _ics(config, s) for s in stories}
    files = {s.calendar: _calendar(config, s.title, (one[s.id],)) for s in stories if s.calendar}
    files[CALENDAR] = _calendar(config, f"Agenda · {config.settings.title}", (one[s.id] for s in stories))
    return files
