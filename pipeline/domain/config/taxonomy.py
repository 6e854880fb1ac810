"""The taxonomy of ``sources.yaml``: its lists (sections, themes, sectors, provinces, kinds,
horizons), their terms, and the check that reads them (``read_taxonomy``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.domain.i18n import _
from pipeline.domain.schema import Checker
from pipeline.domain.yamldoc import KeyPath

TAXONOMY_LISTS: dict[str, tuple[str, ...]] = {
    # list name -> extra keys allowed on each term, besides id and title
    "sections": ("description", "kinds", "limit", "featured"),
    "themes": ("description", "keywords", "opgave"),
    "sectors": ("description",),
    "provinces": ("description",),
    "kinds": ("description",),
    "horizons": ("description",),
}
REQUIRED_LISTS = ("sections", "themes", "sectors", "provinces", "kinds")
PROVINCES = (
    "groningen", "friesland", "drenthe", "overijssel", "flevoland", "gelderland", "utrecht",
    "noord-holland", "zuid-holland", "zeeland", "noord-brabant", "limburg",
)  # fmt: skip
NATIONWIDE = "landelijk"


@dataclass(frozen=True)
class Term:
    """One entry of a taxonomy list (a sector, province, kind or horizon)."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class SectionTerm(Term):
    """A section of the newsletter: which kinds it takes, how many items, whether it leads the issue."""

    kinds: tuple[str, ...] = ()  # empty: any kind
    limit: int = 5  # a section without 'limit' shows this many items
    featured: bool = False

    def takes(self, kind: str | None) -> bool:
        return not self.kinds or kind in self.kinds

    @property
    def is_agenda(self) -> bool:
        """A section of events only: shown as an agenda."""
        return bool(self.kinds) and set(self.kinds) <= {"event"}


@dataclass(frozen=True)
class ThemeTerm(Term):
    keywords: tuple[str, ...] = ()  # an item whose title or summary has one gets the theme
    opgave: int | str | None = None  # the alliance's task (opgave) the theme belongs to


T = TypeVar("T", bound=Term)


class Terms(dict[str, T]):
    """A taxonomy list by id, in the file's order."""

    def title(self, term_id: str | None, default: str | None = None) -> str | None:
        """The title of ``term_id``, or ``default`` when it is not in the list."""
        term = self.get(term_id) if term_id else None
        return term.title if term is not None else default

    def titles(self, ids: Iterable[str]) -> tuple[str, ...]:
        """The titles of the ids that are in the list, in the order given."""
        return tuple(self[i].title for i in ids if i in self)


@dataclass(frozen=True)
class Taxonomy:
    sections: Terms[SectionTerm]
    themes: Terms[ThemeTerm]
    sectors: Terms[Term]
    provinces: Terms[Term]
    kinds: Terms[Term]
    horizons: Terms[Term]


def _term(c: Checker, kp: KeyPath, name: str, e: dict[str, Any], tid: str, title: str) -> Term:
    description = c.text((*kp, "description"), e.get("description"))
    if name == "sections":
        limit = c.integer((*kp, "limit"), e.get("limit"), minimum=1) if "limit" in e else None
        featured = c.boolean((*kp, "featured"), e.get("featured"))
        kinds = tuple(str(k) for k in c.seq((*kp, "kinds"), e.get("kinds"), "'kinds'") if isinstance(k, str))
        return SectionTerm(tid, title, description, kinds, limit or SectionTerm.limit, bool(featured))
    if name == "themes":
        words = c.seq((*kp, "keywords"), e.get("keywords"), "'keywords'")
        keywords = tuple(w for i, v in enumerate(words) if (w := c.text((*kp, "keywords", i), v)))
        opgave = e.get("opgave")
        return ThemeTerm(tid, title, description, keywords, opgave if isinstance(opgave, int | str) else None)
    return Term(tid, title, description)


def read_taxonomy(c: Checker, raw: Any) -> Taxonomy:
    kp: KeyPath = ("taxonomy",)
    tax = c.mapping(kp, raw, TAXONOMY_LISTS, REQUIRED_LISTS, "'taxonomy'") or {}
    lists: dict[str, Terms[Any]] = {}
    for name, extras in TAXONOMY_LISTS.items():
        terms: Terms[Any] = Terms()
        for i, entry in enumerate(c.seq((*kp, name), tax.get(name), f"'taxonomy.{name}'")):
            ekp = (*kp, name, i)
            what = _("each of taxonomy.{name}").format(name=name)
            e = c.mapping(ekp, entry, ("id", "title", *extras), ("id", "title"), what)
            if not e:
                continue
            tid = c.ident((*ekp, "id"), e.get("id"))
            title = c.text((*ekp, "title"), e.get("title"))
            if tid and tid in terms:
                message = _("{name} id '{id}' is used twice; ids must be unique")
                c.error((*ekp, "id"), message.format(name=name, id=tid))
            elif tid and title:
                terms[tid] = _term(c, ekp, name, e, tid, title)
        lists[name] = terms
    if "provinces" in tax and NATIONWIDE not in lists["provinces"]:
        message = _("provinces must include '{nationwide}' for work that is nationwide")
        c.error((*kp, "provinces"), message.format(nationwide=NATIONWIDE))
    for i, entry in enumerate(tax.get("sections") or []):
        if isinstance(entry, dict) and "kinds" in entry:
            c.refs((*kp, "sections", i, "kinds"), entry["kinds"], lists["kinds"], "kind")
    return Taxonomy(**lists)
