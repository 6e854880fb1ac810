"""What a partner naturally writes, read where it is unambiguous: ids by their display name or in
capitals (``Meedoen``, ``Gemeente Zwolle``, ``verhaal``), Dutch dates (``12-11-2026``,
``12 november 2026 om 19:30``) and the Dutch names of keys (``titel``: rename it to ``title``).

The file itself is never rewritten: the checks take the canonical value (the id, the date) from
what was written, so that collect takes in exactly what validate accepted.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from typing import Any

# -- ids --------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """``Fryslân`` -> ``fryslan``, ``Gemeente  Zwolle`` -> ``gemeente-zwolle``: for comparing only."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\s_-]+", "-", plain.casefold().strip()).strip("-")


def display_name(value: Any) -> str | None:
    """A term's title or a partner's name."""
    name = getattr(value, "title", None) or getattr(value, "name", None)
    return name if isinstance(name, str) else None


def matching_ids(word: str, known: Mapping[str, Any]) -> list[str]:
    """The ids that ``word`` names, by the id in other capitals or spacing, or by the display name;
    more than one when it is ambiguous. Call it only when ``word`` is not an id itself."""
    key = fold(word)
    if not key:
        return []
    return [tid for tid, value in known.items() if key in (fold(tid), fold(display_name(value) or ""))]


# -- keys -------------------------------------------------------------------------------------------

# What a Dutch partner writes for a key, and the English key(s) it means, in order of preference:
# the first that the entry allows is the one meant.
DUTCH_KEYS: dict[str, tuple[str, ...]] = {
    "titel": ("title",), "naam": ("name", "title"),
    "samenvatting": ("summary",), "omschrijving": ("summary",), "beschrijving": ("summary", "alt"),
    "tekst": ("text", "summary"), "inhoud": ("summary",),
    "thema's": ("themes",), "themas": ("themes",), "thema": ("themes",), "onderwerpen": ("themes",),
    "datum": ("published",), "publicatiedatum": ("published",), "gepubliceerd": ("published",),
    "afbeelding": ("image",), "foto": ("image",), "plaatje": ("image",),
    "provincies": ("provinces", "province"), "provincie": ("province", "provinces"),
    "soort": ("kind",), "type": ("kind",), "categorie": ("kind",),
    "link": ("url",), "webadres": ("url",), "website": ("url", "website"), "adres": ("url",),
    "organisatie": ("partner",), "partnerorganisatie": ("partner",),
    "begint": ("starts",), "begin": ("starts",), "start": ("starts",), "aanvang": ("starts",),
    "eindigt": ("ends",), "einde": ("ends",), "eind": ("ends",), "tot": ("ends",),
    "locatie": ("location",), "plaats": ("location",), "waar": ("location",), "adres-locatie": ("location",),
    "kinderen": ("children",), "jongeren": ("children",), "gezinnen": ("families",),
    "ouders": ("families",), "huishoudens": ("families",), "medewerkers": ("professionals",),
    "bereik": ("reach",), "bereikt": ("reach",), "effecten": ("effects",), "effect": ("effects",),
    "resultaat": ("effects",), "resultaten": ("effects",), "opbrengst": ("effects",),
    "periode": ("period",), "jaar": ("period",), "activiteiten": ("activities",),
    "activiteit": ("activities",), "toestemming": ("consent",), "alt-tekst": ("alt",), "alttekst": ("alt",),
    "e-mail": ("email",), "mail": ("email",), "emailadres": ("email",), "e-mailadres": ("email",),
    "ervaringsdeskundige": ("ervaringsdeskundigen",), "ervaringskennis": ("ervaringsdeskundigen",),
    "contactpersoon": ("contact",), "toezegging": ("pledge",),
}  # fmt: skip
REACH_KEYS = ("children", "families", "professionals")  # under 'reach:' in a progress file


def meant_key(key: str, allowed: Iterable[str]) -> str | None:
    """The allowed key that ``key`` means when it is the key in Dutch or in other capitals, else None."""
    allowed = list(allowed)
    word = key.strip().casefold()
    if word in allowed:
        return word
    return next((k for k in DUTCH_KEYS.get(word, ()) if k in allowed), None)


def nested_key(key: str, allowed: Collection[str]) -> str | None:
    """``children`` when ``key`` (``kinderen``) is a count that belongs under 'reach:' (in an entry
    that has 'reach'), else None."""
    if "reach" not in allowed:
        return None
    word = key.strip().casefold()
    english = word if word in REACH_KEYS else next(iter(DUTCH_KEYS.get(word, ())), None)
    return english if english in REACH_KEYS else None


# -- dates ------------------------------------------------------------------------------------------

MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "mar": 3, "april": 4, "apr": 4,
    "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8, "september": 9,
    "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "oct": 10, "november": 11, "nov": 11, "december": 12,
    "dec": 12,
}  # fmt: skip
_WEEKDAY = r"(?:(?:ma|di|wo|do|vr|za|zo)[a-z]*\.?,?\s+)?"
_TIME = r"(?:\s*,?\s+(?:om\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:\s*uur)?)?"
_DAY = r"(?P<day>\d{1,2})"
_NUMERIC = re.compile(rf"^{_WEEKDAY}{_DAY}[-/.](?P<month>\d{{1,2}})[-/.](?P<year>\d{{4}}){_TIME}$")
_WORDS = re.compile(rf"^{_WEEKDAY}{_DAY}\s+(?P<month>[a-z]+)\.?\s+(?P<year>\d{{4}}){_TIME}$")


class NotARealDate(ValueError):
    """A Dutch date that names no day of the calendar (31-11-2026)."""


def dutch_date(text: str) -> tuple[dt.date, dt.time | None] | None:
    """``12-11-2026``, ``12/11/2026``, ``12 november 2026``, ``do 12 nov 2026 om 19:30``: day first,
    as the Dutch write it. None when it is not such a date; NotARealDate when the day does not exist."""
    line = " ".join(text.casefold().split())
    found = _NUMERIC.match(line) or _WORDS.match(line)
    if found is None:
        return None
    month_text = found["month"]
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text)
    if month is None:
        return None
    try:
        day = dt.date(int(found["year"]), month, int(found["day"]))
        at = dt.time(int(found["hour"]), int(found["minute"])) if found["hour"] is not None else None
    except ValueError as e:
        raise NotARealDate(str(e)) from None
    return day, at
