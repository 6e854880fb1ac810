"""What one run of collect did: a result a source, and the summary the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain.errors import Problem
from pipeline.domain.i18n import ngettext
from pipeline.domain.monitoring import FOLDER as MONITORING_FOLDER


@dataclass(frozen=True)
class SourceResult:
    """What happened to one source in this run."""

    source: str
    url: str
    status: str  # "fetched", "unchanged" or "failed"
    reason: str | None = None  # why it failed, in plain words
    new: int = 0
    updated: int = 0
    items: int = 0  # entries read from the body (0 when unchanged)
    warnings: tuple[str, ...] = ()
    moved_to: str | None = None  # a permanent redirect: the address to put in sources.yaml


@dataclass(frozen=True)
class Summary:
    results: tuple[SourceResult, ...]
    problems: tuple[Problem, ...] = ()  # submission files that were skipped (or only warned about)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def bad_files(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def partial(self) -> bool:
        """Some sources (or submission files) could not be read: exit status 3."""
        return bool(self.failed or self.bad_files)

    def line(self) -> str:
        """The one-line summary the CLI and the demo print."""
        n = len(self.results)
        parts = [
            ngettext(
                "{n} source: {fetched} fetched, {unchanged} unchanged, {failed} failed",
                "{n} sources: {fetched} fetched, {unchanged} unchanged, {failed} failed",
                n,
            ).format(
                n=n,
                fetched=self.count("fetched"),
                unchanged=self.count("unchanged"),
                failed=self.count("failed"),
            ),
            ngettext("{n} new item, {updated} updated", "{n} new items, {updated} updated", self.new).format(
                n=self.new, updated=self.updated
            ),
        ]
        paths = {p.path for p in self.bad_files}
        progress = sum(1 for p in paths if p.startswith(f"{MONITORING_FOLDER}/"))
        if submissions := len(paths) - progress:
            parts.append(
                ngettext("{n} submission file skipped", "{n} submission files skipped", submissions).format(
                    n=submissions
                )
            )
        if progress:
            parts.append(
                ngettext("{n} progress file skipped", "{n} progress files skipped", progress).format(
                    n=progress
                )
            )
        return "; ".join(parts) + f" ({self.seconds:.1f} s)"
