"""Where things live in the published archive (``newsletter publish``), for the stages that link to it
before it is built: render (an event's calendar file in the email) and collect (a partner's page as the
link of a progress activity). Pure functions of ``archive_url``; publish writes the files there."""

from __future__ import annotations

from urllib.parse import urlsplit

THEMES, PROVINCES, PARTNERS, AGENDA, SEARCH = "thema", "provincie", "partner", "agenda", "zoeken"
CALENDAR = "agenda.ics"  # every event in one calendar to subscribe to


def partner_page_url(archive_url: str, partner: str) -> str:
    """A partner's kennisbank page: its pledge and everything it shared in the newsletter."""
    return f"{archive_url}{PARTNERS}/{partner}/"


def event_calendar_path(item_id: str) -> str:
    """An event's .ics file, relative to the archive's root."""
    return f"{AGENDA}/{item_id}.ics"


def event_calendar_url(archive_url: str, item_id: str) -> str:
    return f"{archive_url}{event_calendar_path(item_id)}"


def signup_url(public_url: str | None, archive_url: str) -> str:
    """The sign-up form of 'newsletter serve' (``/aanmelden``) at ``newsletter.signup.public_url``;
    without one, at the archive's host (the address readers know)."""
    if public_url:
        return public_url.rstrip("/") + "/aanmelden"
    parts = urlsplit(archive_url)
    return f"{parts.scheme}://{parts.netloc}/aanmelden"
