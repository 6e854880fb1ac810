"""A partner's story as a YAML file: reading and checking it.

The rules are the ones a partner would expect from a form: required fields, the right types,
ids that exist (with a suggestion for a near miss), no unknown keys, web addresses only,
dates in the instance's time zone, an image with alt text and consent. ``newsletter validate``
adds the plain-language (B1) warnings on the title and the summary (``pipeline.domain.plain``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.domain.config import NATIONWIDE, Config, horizon_ref
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _
from pipeline.domain.models import Contact, Image, Submission
from pipeline.domain.plain import TextAt, check_texts, vocabulary
from pipeline.domain.schema import Checker
from pipeline.domain.yamldoc import YamlDoc

FIELDS = (
    "partner", "title", "summary", "url", "kind", "themes", "provinces", "published",
    "starts", "ends", "location", "image", "ervaringsdeskundigen", "horizon", "contact",
)  # fmt: skip
REQUIRED = ("partner", "title", "summary", "url", "kind", "themes", "published")
TITLE_MAX = 120
SUMMARY_MAX = 800
MAX_BYTES = 64_000  # a story is a few hundred words; anything larger is not a story
PLAIN_TEXTS = (("title", "the title"), ("summary", "the summary"))  # what the B1 rules read


def check_submission_doc(
    doc: YamlDoc, config: Config, now: dt.datetime | None = None
) -> tuple[Submission | None, list[Problem]]:
    """Check one parsed submission against the registry and taxonomy; return it and every problem.
    With ``now`` (a time without a zone is the instance's), a publication date after today is a warning."""
    c = Checker(doc)
    tax = config.taxonomy
    tz = config.settings.timezone
    s = c.mapping((), doc.data, FIELDS, REQUIRED, _("a submission"))
    if s is None:
        return None, c.problems
    partner = c.ref(("partner",), s.get("partner"), config.partners, "partner")
    title = c.text(("title",), s.get("title"), max_len=TITLE_MAX)
    if title and ("<" in title and ">" in title):
        c.error(("title",), _("the title is plain text; remove the HTML tags"))
    summary = c.text(("summary",), s.get("summary"), max_len=SUMMARY_MAX)
    url = c.url(("url",), s.get("url"))
    kind = c.ref(("kind",), s.get("kind"), tax.kinds, "kind")
    themes = c.refs(("themes",), s.get("themes"), tax.themes, "theme")
    provinces = _provinces(c, s, config, partner)
    published = _published(c, s, tz, now)
    starts, ends, location = _event(c, s, kind, tz)
    image = _image(c, s)
    ervaring = c.boolean(("ervaringsdeskundigen",), s.get("ervaringsdeskundigen"))
    horizon = horizon_ref(c, (), s, config.taxonomy)
    contact = _contact(c, s)
    if not c.ok or not (partner and title and summary and url and kind and published):
        return None, c.problems
    return (
        Submission(
            path=doc.path,
            partner=partner,
            title=title,
            summary=summary,
            url=url,
            kind=kind,
            themes=themes,
            provinces=provinces,
            published=published,
            starts=starts,
            ends=ends,
            location=location,
            image=image,
            ervaringsdeskundigen=bool(ervaring),
            horizon=horizon,
            contact=contact,
        ),
        c.problems,
    )


def _provinces(c: Checker, s: dict[str, Any], config: Config, partner: str | None) -> tuple[str, ...]:
    """Where the story happens; without provinces, where its partner is."""
    provinces = c.refs(("provinces",), s.get("provinces"), config.taxonomy.provinces, "province")
    if not provinces and partner:
        provinces = (config.partners[partner].province,)
    if NATIONWIDE in provinces and len(provinces) > 1:
        message = _("'{nationwide}' already covers every province; list either it or provinces")
        c.error(("provinces",), message.format(nationwide=NATIONWIDE))
    return provinces


def _published(c: Checker, s: dict[str, Any], tz: ZoneInfo, now: dt.datetime | None) -> dt.datetime | None:
    """The publication date; with ``now``, a warning when it is after today."""
    published = c.when(("published",), s.get("published"), tz)
    if published is not None and now is not None:
        today = (now if now.tzinfo else now.replace(tzinfo=tz)).astimezone(tz).date()
        day = published.astimezone(tz).date()
        if day > today:
            message = _("'published' is {day}, after today ({today}); check the date and year")
            c.warn(("published",), message.format(day=day, today=today))
    return published


def _event(
    c: Checker, s: dict[str, Any], kind: str | None, tz: ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None, str | None]:
    """An event's start, end and location (starts, ends, location), each where an event needs it."""
    starts = c.when(("starts",), s.get("starts"), tz)
    ends = c.when(("ends",), s.get("ends"), tz)
    location = c.text(("location",), s.get("location"), max_len=200)
    if kind == "event":
        if "starts" not in s:
            c.error((), _("'starts' is missing; an event needs the date and time it starts"))
        if not location:
            c.error((), _("'location' is missing; an event needs a place (or 'online')"))
    elif "starts" in s or "ends" in s:
        c.error(
            ("starts",) if "starts" in s else ("ends",),
            _("'starts' and 'ends' are for events; set 'kind: event'"),
        )
    if starts and ends and ends <= starts:
        message = _("'ends' ({ends}) is not after 'starts' ({starts})")
        c.error(("ends",), message.format(ends=f"{ends:%Y-%m-%d %H:%M}", starts=f"{starts:%Y-%m-%d %H:%M}"))
    if ends and not starts:
        c.error(("ends",), _("'ends' without 'starts'; add when the event starts"))
    return starts, ends, location


def _image(c: Checker, s: dict[str, Any]) -> Image | None:
    """The image, with its alt text and consent (an image without consent is kept, and not published)."""
    if s.get("image") is None:
        return None
    kp = ("image",)
    im = c.mapping(kp, s["image"], ("url", "alt", "consent"), ("url",), "'image'")
    if not im:
        return None
    img_url = c.url((*kp, "url"), im.get("url"))
    alt = c.text((*kp, "alt"), im.get("alt"), max_len=250)
    consent = c.boolean((*kp, "consent"), im.get("consent"))
    missing = Image(img_url or "", alt, consent).missing()
    if "alt text" in missing:
        c.error(kp, _("the image needs 'alt': a short description for readers who cannot see it"))
    if "consent" in missing:
        c.warn(
            kp,
            _(
                "the image has no 'consent: true', so it will not be published; add it once everyone "
                "recognisable in it (for children: their parents) agreed"
            ),
        )
    return Image(img_url, alt, consent) if img_url else None


def _contact(c: Checker, s: dict[str, Any]) -> Contact | None:
    if s.get("contact") is None:
        return None
    cm = c.mapping(("contact",), s["contact"], ("name", "email"), (), "'contact'")
    if not cm:
        return None
    return Contact(
        c.text(("contact", "name"), cm.get("name")), c.email(("contact", "email"), cm.get("email"))
    )


def plain_language(doc: YamlDoc, config: Config) -> list[Problem]:
    """The B1 warnings of a submission's title and summary, at the line of each sentence or word."""
    data = doc.data if isinstance(doc.data, dict) else {}
    texts = [TextAt((key,), what, data[key]) for key, what in PLAIN_TEXTS if isinstance(data.get(key), str)]
    return check_texts(doc, texts, config.settings.plain, vocabulary(config))
