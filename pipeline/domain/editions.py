"""Editions of one issue: what a reader's choice of provinces and themes changes in it.

A section of an issue may say ``personalise: provinces`` (or ``themes``). A reader who chose some
provinces (``subscribers.provinces``) then gets that section's entries for her provinces first, and
the rest folded under "Meer uit het land" (``rest: fold``, the default) or left out (``rest: omit``).
A reader without a choice, or whose choice matches none of a section's entries, gets the section as
it is. So an edition is named by the part of a reader's choice that changes something (``effective``):
readers whose choices differ only in values no entry has share one edition, and the issue is rendered
once per edition in use, not once per reader.

An edition's key is text (``provinces=drenthe,overijssel;themes=onderwijs``; ``""``: the issue as it
is), kept with each reader's delivery and each edition's content in the state database.

No I/O here: the items and the taxonomy come in as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.domain.config import Config, Taxonomy
from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.domain.issues import PERSONALISE as DIMENSIONS
from pipeline.domain.issues import REST_FOLD, Entry, Issue
from pipeline.domain.lenient import matching_ids
from pipeline.domain.models import Item

BASE = ""  # the key of the issue as it is


@dataclass(frozen=True)
class Choice:
    """What a reader chose: province and theme ids (empty: everything)."""

    provinces: frozenset[str] = frozenset()
    themes: frozenset[str] = frozenset()

    def values(self, dimension: str) -> frozenset[str]:
        return self.provinces if dimension == "provinces" else self.themes

    @property
    def key(self) -> str:
        parts = [f"{d}={','.join(sorted(self.values(d)))}" for d in DIMENSIONS if self.values(d)]
        return ";".join(parts)

    def label(self, taxonomy: Taxonomy) -> str:
        """As the editors read it: "Overijssel, thema Onderwijs"; "iedereen" for the issue as it is."""
        shown = list(taxonomy.provinces.titles(sorted(self.provinces)))
        shown += [_("theme {theme}").format(theme=t) for t in taxonomy.themes.titles(sorted(self.themes))]
        return ", ".join(shown) or _("everyone (the issue as it is)")


def split_csv(value: str | None) -> frozenset[str]:
    return frozenset(v.strip() for v in (value or "").split(",") if v.strip())


def from_columns(provinces: str | None, themes: str | None) -> Choice:
    """A reader's choice from the subscribers' columns (comma-separated ids, '' for everything)."""
    return Choice(split_csv(provinces), split_csv(themes))


def from_key(key: str) -> Choice:
    """The choice an edition's key names (the inverse of ``Choice.key``)."""
    found: dict[str, frozenset[str]] = {}
    for part in key.split(";"):
        name, _sep, values = part.partition("=")
        if name in DIMENSIONS:
            found[name] = split_csv(values)
    return Choice(found.get("provinces", frozenset()), found.get("themes", frozenset()))


class UnknownChoice(PipelineError):
    "A province or theme that an editor asked to preview is not in the taxonomy."


def parse_view_as(text: str, taxonomy: Taxonomy) -> Choice:
    """``--as overijssel,onderwijs`` (or "Overijssel, thema onderwijs"): each name a province or a
    theme of the taxonomy, by id or title, in any case."""
    provinces: set[str] = set()
    themes: set[str] = set()
    for raw in text.split(","):
        word = raw.strip()
        lowered = word.lower()
        for prefix in ("thema ", "theme ", "provincie ", "province "):
            if lowered.startswith(prefix):
                word = word[len(prefix) :].strip()
        if not word:
            continue
        province = (
            word if word in taxonomy.provinces else next(iter(matching_ids(word, taxonomy.provinces)), None)
        )
        theme = word if word in taxonomy.themes else next(iter(matching_ids(word, taxonomy.themes)), None)
        if province is not None:
            provinces.add(province)
        elif theme is not None:
            themes.add(theme)
        else:
            raise UnknownChoice(
                _("'{name}' is not a province or theme of the taxonomy").format(name=word),
                _("name provinces and themes by their id or title, e.g. --as overijssel,onderwijs"),
            )
    return Choice(frozenset(provinces), frozenset(themes))


# -- what each entry is about ----------------------------------------------------------------------

Tags = Mapping[tuple[str, int], Mapping[str, frozenset[str]]]


def entry_tags(config: Config, entry: Entry, item: Item | None) -> dict[str, frozenset[str]]:
    """The provinces and themes an entry is about: its item's, and for provinces without any, the
    province of its partner (a hand-written announcement has only its partner's)."""
    provinces = frozenset(item.provinces) if item is not None else frozenset()
    partner = entry.partner or (item.partner if item is not None else None)
    if not provinces and partner and partner in config.partners:
        provinces = frozenset({config.partners[partner].province})
    themes = frozenset(item.themes) if item is not None else frozenset()
    return {"provinces": provinces, "themes": themes}


def issue_tags(
    config: Config, issue: Issue, items: Mapping[str, Item]
) -> dict[tuple[str, int], dict[str, frozenset[str]]]:
    """``entry_tags`` of every entry of the personalised sections, by (section, position)."""
    return {
        (s.id, i): entry_tags(config, e, items.get(e.item) if e.item else None)
        for s in issue.sections
        if s.personalise
        for i, e in enumerate(s.items)
    }


def personalised(issue: Issue) -> bool:
    return any(s.personalise for s in issue.sections)


# -- an edition --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A section as one edition shows it: positions into its items, hers first, the rest folded
    (``more``; empty with ``rest: omit``). A section as it is has every position in ``own``."""

    section: str
    own: tuple[int, ...]
    more: tuple[int, ...] = ()
    personalised: bool = False


def _matches(tags: Tags, section: str, index: int, dimension: str, wanted: frozenset[str]) -> bool:
    return bool(tags.get((section, index), {}).get(dimension, frozenset()) & wanted)


def effective(issue: Issue, tags: Tags, choice: Choice) -> Choice:
    """The part of ``choice`` that changes the issue: each value that some entry of a section
    personalised by its dimension has. Two readers with the same effective choice get the same mail."""
    kept: dict[str, frozenset[str]] = {d: frozenset() for d in DIMENSIONS}
    for s in issue.sections:
        if not s.personalise:
            continue
        d = s.personalise
        had = frozenset().union(*(tags.get((s.id, i), {}).get(d, frozenset()) for i in range(len(s.items))))
        kept[d] = kept[d] | (choice.values(d) & had)
    return Choice(kept["provinces"], kept["themes"])


def arrange(issue: Issue, tags: Tags, choice: Choice) -> dict[str, Part]:
    """Each section of the issue as the reader with ``choice`` gets it."""
    parts = {}
    for s in issue.sections:
        every = tuple(range(len(s.items)))
        wanted = choice.values(s.personalise) if s.personalise else frozenset()
        own = tuple(i for i in every if wanted and _matches(tags, s.id, i, s.personalise or "", wanted))
        if not own:  # no choice, or nothing of hers here: the section as it is
            parts[s.id] = Part(s.id, every)
            continue
        rest = tuple(i for i in every if i not in own)
        parts[s.id] = Part(s.id, own, rest if s.rest == REST_FOLD else (), True)
    return parts


def keys_in_use(issue: Issue, tags: Tags, raw: Iterable[str]) -> dict[str, str]:
    """Each raw choice of the audience (``provinces|themes`` as the subscribers' columns hold them)
    mapped to its edition's key; ``BASE`` for the issue as it is."""
    out = {}
    for value in raw:
        provinces, _sep, themes = value.partition("|")
        out[value] = effective(issue, tags, from_columns(provinces, themes)).key
    return out


def tags_content(issue: Issue, tags: Tags) -> list[dict[str, object]]:
    """What the approval fingerprint adds for the editions: each personalised section's setting and
    the provinces and themes of each entry (a partner's province moving changes an edition)."""
    return [
        {
            "section": s.id,
            "personalise": s.personalise,
            "rest": s.rest,
            "tags": [
                {d: sorted(tags.get((s.id, i), {}).get(d, frozenset())) for d in DIMENSIONS}
                for i in range(len(s.items))
            ],
        }
        for s in issue.sections
        if s.personalise
    ]
