"""`newsletter validate`: check sources.yaml, submissions, progress files and issue files, without
side effects.

Submissions get the plain-language (B1) warnings too: a partner runs validate before sending a
story. An issue's B1 warnings come with 'newsletter check', where the editors look.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.domain.config import CONFIG_FILE, Config
from pipeline.domain.errors import Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.monitoring import FOLDER as MONITORING
from pipeline.infra.instance import (
    check_config,
    check_issue_file,
    check_submission_file,
    progress_files,
    read_monitoring,
    submission_files,
)


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def bad_files(self) -> set[str]:
        return {p.path for p in self.errors}


def _kind(path: Path, root: Path) -> str:
    if path.name == CONFIG_FILE:
        return "config"
    # Where it is in the instance by its own name: a link is judged where it lies, not where it leads.
    for mine, base in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(root))),
        (path.resolve(), root.resolve()),
    ):
        try:
            rel = mine.relative_to(base)
        except ValueError:
            continue
        if rel.parts and rel.parts[0] == "issues":
            return "issue"
        if rel.parts and rel.parts[0] == MONITORING:
            return "monitoring"
        return "submission"
    if MONITORING in path.parts[:-1]:  # a progress file checked from outside the instance
        return "monitoring"
    return "submission"


def default_paths(config: Config) -> list[Path]:
    """Every file a person writes: submissions from the local folders, progress files, then issue files."""
    paths: list[Path] = []
    for source in config.submissions:
        if source.path is not None:
            paths.extend(submission_files(source.path))
    paths.extend(progress_files(config.root))
    paths.extend(sorted((config.root / "issues").glob("*.yaml")))
    return paths


def validate(root: Path, paths: list[Path] | None = None, now: dt.datetime | None = None) -> Report:
    """Check the named files (or all of them); sources.yaml is always read, since ids come from it.
    With ``now``, a submission published after today gets a warning (a typo in its year, most often)."""
    report = _validate(root, paths, now)
    report.problems.sort(key=lambda p: (p.path, p.line or 0))
    return report


def _validate(root: Path, paths: list[Path] | None, now: dt.datetime | None) -> Report:
    report = Report()
    config, problems = check_config(root)
    config_shown = display_path(root / CONFIG_FILE, root)
    wants_config = not paths or any(_kind(p, root) == "config" for p in paths)
    if wants_config or config is None:
        report.checked.append(config_shown)
        report.problems.extend(problems)
    if config is None:
        if paths and not wants_config:
            report.problems.append(
                Problem(config_shown, None, _("fix sources.yaml first: submissions are checked against it"))
            )
        return report
    targets = [p for p in (paths or default_paths(config)) if _kind(p, root) != "config"]
    expanded: list[Path] = []
    for p in targets:
        if p.is_dir():
            expanded.extend(submission_files(p) if p.name != "issues" else sorted(p.glob("*.yaml")))
        else:
            expanded.append(p)
    progress = [p for p in expanded if _kind(p, root) == "monitoring"]
    for path in expanded:
        shown = display_path(path, root)
        kind = _kind(path, root)
        if kind == "monitoring":
            continue  # below, together: one partner's files must not overlap
        report.checked.append(shown)
        if kind == "issue":
            found = check_issue_file(path, config, shown)[1]
        else:
            found = check_submission_file(path, config, shown, plain=True, now=now)[1]
        report.problems.extend(found)
    if progress:
        monitoring = read_monitoring(config, progress)
        report.checked.extend(monitoring.checked)
        report.problems.extend(monitoring.problems)
    return report
