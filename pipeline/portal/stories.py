"""A partner's story from the portal's form: the YAML a partner would write by hand, checked by the
code ``newsletter validate`` runs, written atomically into ``submissions/<partner-id>/``.

The file is the truth: the form is filled from it, and a save writes it whole (with the skeleton's
comments). Every name in a path comes from the program: the partner from the session, the story
id from a file the program listed in the partner's own folder (``story_path`` refuses anything
else), the image from a name the program made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.domain.config import Config
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _, using
from pipeline.domain.models import Submission
from pipeline.infra.files import atomic_write
from pipeline.infra.instance import check_submission_file

# The form's fields, named as the YAML keys; the event's only when the kind is an event.
TEXT_FIELDS = ("title", "summary", "url", "kind", "published", "starts", "ends", "location")
EVENT_FIELDS = ("starts", "ends", "location")
ID_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}-[a-z0-9-]{1,60}$")
IMAGE_RE = re.compile(r"^[0-9a-f]{20}\.(jpg|png|webp)$")
PLAIN_VALUE = re.compile(r"^[0-9][0-9T:+\- ]{0,29}$")  # a date or time as people type it
WITHDRAWN = ".ingetrokken"  # hidden: validate and collect skip it
FIELD_MAX = 4000  # no field of a story comes near this (the summary: 800 characters)
HIDDEN_KINDS = ("voortgang",)  # made by collect from progress files, never a partner's story


@dataclass(frozen=True)
class StoryForm:
    """What the partner typed (or what the file holds), as the form shows it."""

    values: Mapping[str, str] = field(default_factory=dict)
    themes: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    ervaringsdeskundigen: bool = False
    image: str | None = None  # the image's file name under media/<partner>/
    alt: str = ""
    consent: str = ""  # "yes", "no" or "" (no answer)

    def get(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass(frozen=True)
class Checked:
    """A story checked as ``validate`` checks it: the text, the problems by field, the warnings."""

    text: str
    submission: Submission | None
    errors: dict[str, list[str]]
    warnings: dict[str, list[str]]


def folder(config: Config, partner: str) -> Path:
    """The partner's folder of stories: ``submissions/<partner-id>/`` in the first local folder."""
    base = next((s.path for s in config.submissions if s.path is not None), config.root / "submissions")
    return base / partner


def media_folder(config: Config, partner: str) -> Path:
    return config.root / "media" / partner


def story_path(config: Config, partner: str, story_id: str) -> Path | None:
    """The file of one of the partner's stories, or None: the id must look like one the program
    made, and a file of that name must be in the partner's own folder."""
    if not ID_RE.match(story_id):
        return None
    path = folder(config, partner) / f"{story_id}.yaml"
    return path if path.is_file() and not path.is_symlink() else None


def story_ids(config: Config, partner: str) -> list[str]:
    """The partner's stories, newest first (withdrawn ones are not among them)."""
    where = folder(config, partner)
    if not where.is_dir():
        return []
    found = [p.stem for p in where.glob("*.yaml") if ID_RE.match(p.stem) and p.is_file()]
    return sorted(found, reverse=True)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the YAML a partner would write -------------------------------------------------------------------
def _scalar(value: str) -> str:
    """A string as YAML: always double-quoted (JSON's escapes are YAML's), so no text can end the line."""
    return json.dumps(value, ensure_ascii=False)


RESERVED = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"}
PLAIN_TEXT = re.compile(r"[^\W_][\w .,()/?!'’:+=&%-]*")


def _text(value: str) -> str:
    """A string as a person writes it (plain) when YAML reads it back as the same text, else quoted."""
    plain = (
        PLAIN_TEXT.fullmatch(value) is not None
        and ": " not in value
        and not value.endswith((":", " "))
        and value.lower() not in RESERVED
        and not re.fullmatch(r"[-+0-9.:_ eE]+", value)
    )
    return value if plain else _scalar(value)


def _when(value: str) -> str:
    return value if PLAIN_VALUE.match(value) else _scalar(value)


def _ids(values: Sequence[str]) -> str:
    return "[" + ", ".join(v if re.fullmatch(r"[a-z0-9-]+", v) else _scalar(v) for v in values) + "]"


def _block(text: str) -> list[str]:
    """The summary as a literal block (as the skeleton writes it), or quoted when a block cannot hold it."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if not lines or lines[0].startswith((" ", "\t")) or any("\t" in line for line in lines):
        return [_scalar(text.strip())]
    return ["|", *(f"  {line}" if line else "" for line in lines)]


def _line(key: str, value: str, comment: str | None) -> str:
    text = f"{key}: {value}"
    return f"{text.ljust(34)} # {comment}" if comment else text


def to_yaml(form: StoryForm, partner: str, image_base: str, shown: str) -> str:
    """The submission file: the keys in the skeleton's order, each with the skeleton's comment."""
    v = form.get
    out = [
        "# Eén verhaal per bestand, gemaakt in het partnerportaal (/partners/). Je mag het ook met de hand",
        "# aanpassen. De namen voor de dubbele punt blijven Engels; wat ze betekenen staat erachter.",
        f"# Controleer het bestand met:  newsletter validate {shown}",
        _line("partner", partner, "de code van je organisatie, zoals in sources.yaml"),
    ]
    # An empty field is left out, as a partner would leave out the line: validate then names it once.
    if v("title"):
        out.append(_line("title", _text(v("title")), "de kop: kort, zonder HTML"))
    if v("summary"):
        block = _block(v("summary"))
        out.append(_line("summary", block[0], "twee of drie korte zinnen: wat er gebeurt, en voor wie"))
        out.extend(block[1:])
    if v("url"):
        out.append(_line("url", _text(v("url")), "waar lezers meer lezen; begint met https://"))
    if v("kind"):
        out.append(_line("kind", _text(v("kind")), "story, research, policy, event ..."))
    if form.themes:
        out.append(_line("themes", _ids(form.themes), "een of meer thema's uit sources.yaml"))
    if form.provinces:
        out.append(_line("provinces", _ids(form.provinces), "waar het speelt"))
    if v("published"):
        out.append(_line("published", _when(v("published")), "de datum van het verhaal: jaar-maand-dag"))
    if v("kind") == "event":
        if v("starts"):
            out.append(_line("starts", _when(v("starts")), "begin: jaar-maand-dag uur:minuut"))
        if v("ends"):
            out.append(_line("ends", _when(v("ends")), "einde (niet verplicht)"))
        if v("location"):
            out.append(_line("location", _text(v("location")), "waar, of: online"))
    if form.image:
        consent = {"yes": "true", "no": "false"}.get(form.consent, "false")
        image = f"{{url: {_scalar(image_base + form.image)}, alt: {_scalar(form.alt)}, consent: {consent}}}"
        out.append(_line("image", image, None))
        out.append("#   consent: true betekent: iedereen die herkenbaar op de foto staat vond het goed"
                   " (bij kinderen: de ouders)")  # fmt: skip
    if form.ervaringsdeskundigen:
        out.append(_line("ervaringsdeskundigen", "true", "mensen met ervaring met armoede deden mee"))
    return "\n".join(out) + "\n"


def image_base(config: Config, partner: str) -> str:
    """Where the partner's images are on the web: under the archive (publish copies media/ there)."""
    base = config.settings.archive_url or "https://example.org/archief/"
    return f"{base.rstrip('/')}/media/{partner}/"


# -- the form, read -----------------------------------------------------------------------------------
def read_form(fields: Mapping[str, list[str]], config: Config) -> StoryForm:
    """The story form's fields (each a list: a checkbox repeats its name), trimmed and bounded."""

    def one(key: str) -> str:
        got = fields.get(key) or [""]
        return unicodedata.normalize("NFC", got[-1])[:FIELD_MAX].replace("\r\n", "\n").strip()

    values = {k: one(k) for k in TEXT_FIELDS}
    if values["kind"] != "event":
        values.update(dict.fromkeys(EVENT_FIELDS, ""))
    image = one("image_file")
    consent = one("consent")
    return StoryForm(
        values=values,
        themes=tuple(dict.fromkeys(t for t in fields.get("themes", []) if t)),
        provinces=tuple(dict.fromkeys(p for p in fields.get("provinces", []) if p)),
        ervaringsdeskundigen=one("ervaringsdeskundigen") == "yes",
        image=image if IMAGE_RE.match(image) else None,
        alt=one("alt")[:300],
        consent=consent if consent in ("yes", "no") else "",
    )


def from_submission(sub: Submission, base: str, tz: dt.tzinfo) -> StoryForm:
    """The form filled from a story's file (to edit it)."""

    def when(value: dt.datetime | None, with_time: bool) -> str:
        if value is None:
            return ""
        local = value.astimezone(tz)
        return f"{local:%Y-%m-%d %H:%M}" if with_time else f"{local:%Y-%m-%d}"

    image = None
    if sub.image and sub.image.url and sub.image.url.startswith(base):
        image = sub.image.url[len(base) :]
    values = {
        "title": sub.title, "summary": sub.summary, "url": sub.url, "kind": sub.kind,
        "published": when(sub.published, False), "starts": when(sub.starts, True),
        "ends": when(sub.ends, True), "location": sub.location or "",
    }  # fmt: skip
    return StoryForm(
        values=values,
        themes=tuple(sub.themes),
        provinces=tuple(sub.provinces),
        ervaringsdeskundigen=sub.ervaringsdeskundigen,
        image=image if image and IMAGE_RE.match(image) else None,
        alt=(sub.image.alt or "") if sub.image else "",
        consent=("yes" if sub.image.consent else "no") if sub.image else "",
    )


# -- checking, as validate does -----------------------------------------------------------------------
KEYS_BY_LINE = re.compile(r"^([a-z]+):")


def check(config: Config, text: str, shown: str, now: dt.datetime, form: StoryForm) -> Checked:
    """The story's text checked by ``validate``'s own code, in Dutch, each problem at its field (by
    the line it names, or the key it quotes); the form's own rules on top (a consent answer)."""
    with using("nl"):
        sub, problems = check_submission_file(text.encode(), config, shown, plain=True, now=now)
        lines = {
            i + 1: m.group(1) for i, line in enumerate(text.splitlines()) if (m := KEYS_BY_LINE.match(line))
        }
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        for p in problems:
            where = _field_of(p, lines)
            (errors if p.is_error else warnings).setdefault(where, []).append(p.message)
        if form.image and not form.consent:
            errors.setdefault("consent", []).append(
                _("answer the question about recognisable children before the image can be used")
            )
        if form.image and not form.alt:
            errors.setdefault("alt", []).append(
                _("the image needs 'alt': a short description for readers who cannot see it")
            )
    return Checked(text, sub if not errors else None, _in_form_order(errors), _in_form_order(warnings))


FORM_ORDER = (
    "form", "title", "summary", "url", "kind", "themes", "provinces", "published", "starts", "ends",
    "location", "image", "alt", "consent",
)  # fmt: skip


def _in_form_order(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The fields' messages in the order the form shows the fields (the summary lists them so)."""
    rank = {key: i for i, key in enumerate(FORM_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def _field_of(p: Problem, lines: Mapping[int, str]) -> str:
    if p.line in (None, 1):  # a missing key is reported at the top: the key it names is the field
        named = [k for k in re.findall(r"'([a-z]+)'", p.message) if k in (*TEXT_FIELDS, "themes", "image")]
        if named:
            return named[0]
    # The key on the problem's line, or the one whose block the line is in (the summary's sentences).
    above = [n for n in lines if n <= (p.line or 0)]
    key = lines[max(above)] if above else None
    if key == "image":
        return "alt" if "'alt'" in p.message else "image"
    return key if key and key != "partner" else "form"


# -- saving -------------------------------------------------------------------------------------------
def slug(title: str) -> str:
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
    return (words[:50].rstrip("-")) or "verhaal"


def new_id(config: Config, partner: str, form: StoryForm, today: dt.date) -> str:
    """A free id ``<date>-<slug>`` for a new story (``-2``, ``-3`` ... when taken)."""
    day = form.get("published")[:10]
    day = day if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day) else f"{today:%Y-%m-%d}"
    base = f"{day}-{slug(form.get('title'))}"
    where = folder(config, partner)
    candidate, n = base, 1
    while (where / f"{candidate}.yaml").exists() or (where / WITHDRAWN / f"{candidate}.yaml").exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def write(path: Path, text: str) -> None:
    atomic_write(path, text)


def withdraw(config: Config, partner: str, story_id: str, now: dt.datetime) -> Path | None:
    """Move the story to the partner's hidden folder of withdrawn stories (kept, never collected)."""
    path = story_path(config, partner, story_id)
    if path is None:
        return None
    target = path.parent / WITHDRAWN / f"{story_id}-{now:%Y%m%dT%H%M%S}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target


def load(config: Config, partner: str, story_id: str) -> tuple[bytes, Submission | None] | None:
    """The story's bytes and its checked value (None when it has mistakes: edited by hand)."""
    path = story_path(config, partner, story_id)
    if path is None:
        return None
    data = path.read_bytes()
    sub, _problems = check_submission_file(data, config, f"{partner}/{story_id}.yaml")
    if sub is not None and sub.partner != partner:
        return None  # a file in the wrong folder is not this partner's to change
    return data, sub
