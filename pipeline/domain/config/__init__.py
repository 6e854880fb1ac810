"""The instance's settings: ``sources.yaml``, parsed, checked once and turned into typed values
(``check_config_doc``; reading the file is ``pipeline.infra.instance.load_config``).

The settings are one typed tree (``Settings``), each section of ``newsletter:`` a frozen dataclass
with its defaults next to its fields (``SendGrid``, ``Limits``, ``Delivery``, ``Signup``, ...): the
checks read the user's YAML into them once, and a bad value gets a problem naming its line and the
fix. Every later stage receives a ``Config``, never the raw YAML.

The package: ``settings`` (the tree and its sections), ``reading`` (``newsletter:`` read into it),
``taxonomy`` (the lists and their terms), ``partners`` (partners, feeds and submission sources); this
module is the entry every importer uses: ``Config`` and ``check_config_doc``, and the names of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.domain.config.partners import (
    FEED_KIND,
    PLEDGE_MAX,
    SUBMISSIONS,
    FeedSource,
    Partner,
    Pledge,
    SubmissionSource,
    horizon_ref,
    read_partners,
    read_sources,
    read_submissions,
    submission_source,
)
from pipeline.domain.config.reading import read_settings
from pipeline.domain.config.settings import (
    ALL,
    RULE_NAMES,
    RULES,
    Coverage,
    Delivery,
    Limits,
    Logo,
    MonitoringSettings,
    PlainLanguage,
    PortalSettings,
    ReportSettings,
    SendGrid,
    Settings,
    Signup,
    parse_word_list,
)
from pipeline.domain.config.taxonomy import (
    NATIONWIDE,
    PROVINCES,
    REQUIRED_LISTS,
    TAXONOMY_LISTS,
    SectionTerm,
    Taxonomy,
    Term,
    Terms,
    ThemeTerm,
    read_taxonomy,
)
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import _
from pipeline.domain.schema import Checker
from pipeline.domain.yamldoc import YamlDoc

CONFIG_FILE = "sources.yaml"


@dataclass(frozen=True)
class Config:
    root: Path
    settings: Settings
    taxonomy: Taxonomy
    partners: Mapping[str, Partner]
    sources: Mapping[str, FeedSource]
    submissions: tuple[SubmissionSource, ...]
    warnings: tuple[Problem, ...] = ()

    def feeds(self) -> list[FeedSource]:
        """Every feed to collect, partners' first, in the file's order."""
        out = [f for p in self.partners.values() for f in p.feeds]
        out.extend(self.sources.values())
        return out

    def path(self, relative: str | Path) -> Path:
        return (self.root / relative).resolve()


def check_config_doc(
    doc: YamlDoc, root: Path, *, read_text: Callable[[Path], str], database_url: str | None
) -> tuple[Config | None, list[Problem]]:
    """Check the parsed ``sources.yaml`` of the instance at ``root``; return the config (None when
    unusable) and every problem. ``read_text`` reads a word list the settings name (a UTF-8 text
    file in the instance); ``database_url`` is NEWSLETTER_DATABASE_URL, which wins over the file's."""
    c = Checker(doc)
    top = c.mapping((), doc.data, ("newsletter", "taxonomy", "partners", "sources", "submissions"),
                    ("newsletter", "taxonomy"), CONFIG_FILE) or {}  # fmt: skip
    taxonomy = read_taxonomy(c, top.get("taxonomy"))
    settings = read_settings(c, top.get("newsletter"), root, taxonomy, read_text, database_url)
    partners = read_partners(c, top.get("partners"), taxonomy)
    sources = read_sources(c, top.get("sources"), taxonomy, partners)
    submissions = read_submissions(c, top.get("submissions"), root, partners)
    if settings is not None and taxonomy.kinds and settings.monitoring.kind not in taxonomy.kinds:
        pledged = next((i for i, p in enumerate(partners.values()) if p.pledge), None)
        if pledged is not None:
            kind = settings.monitoring.kind
            message = _(
                "partners report progress on their pledge, and its activities become newsletter candidates "
                "of kind '{kind}', which taxonomy.kinds does not have: add {{id: {kind}, title: Voortgang}} "
                "to taxonomy.kinds and '{kind}' to a section's 'kinds', or set newsletter.monitoring.kind"
            )
            c.warn(("partners", pledged, "pledge"), message.format(kind=kind))
    if not c.ok or settings is None:
        return None, c.problems
    config = Config(root, settings, taxonomy, partners, sources, submissions, tuple(c.problems))
    return config, c.problems


__all__ = [
    "ALL", "CONFIG_FILE", "FEED_KIND", "NATIONWIDE", "PLEDGE_MAX", "PROVINCES", "REQUIRED_LISTS", "RULES",
    "RULE_NAMES", "SUBMISSIONS", "TAXONOMY_LISTS", "Config", "Coverage", "Delivery", "FeedSource", "Limits",
    "Logo", "MonitoringSettings", "Partner", "PlainLanguage", "Pledge", "PortalSettings", "ReportSettings",
    "SectionTerm", "SendGrid", "Settings", "Signup", "SubmissionSource", "Taxonomy", "Term", "Terms",
    "ThemeTerm", "check_config_doc", "horizon_ref", "parse_word_list", "submission_source",
]  # fmt: skip
