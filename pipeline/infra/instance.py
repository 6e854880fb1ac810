"""The instance's folder: creating one (`newsletter init`) from the skeleton that ships with the
package, and reading and writing its files, which ``pipeline.domain`` checks as parsed values:
``sources.yaml`` (``load_config``), issues, submissions and progress files."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.domain import monitoring
from pipeline.domain.config import CONFIG_FILE, Config, check_config_doc
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError, Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.issues import Issue, check_issue_doc, issue_path, set_program_fields
from pipeline.domain.models import Submission
from pipeline.domain.submissions import MAX_BYTES as SUBMISSION_BYTES
from pipeline.domain.submissions import check_submission_doc, plain_language
from pipeline.domain.yamldoc import parse
from pipeline.infra.files import atomic_write
from pipeline.infra.yamlfile import load

SKELETON = Path(__file__).resolve().parent.parent / "skeleton"


class InstanceExists(PipelineError):
    "The target folder already holds files."


def create(directory: Path) -> list[Path]:
    """Copy the skeleton into ``directory`` (new or empty); return the files written."""
    if directory.exists() and any(directory.iterdir()):
        raise InstanceExists(
            f"{directory} is not empty",
            "choose a new folder name, or remove the files that are in it",
        )
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(SKELETON.rglob("*")):
        rel = src.relative_to(SKELETON)
        dest = directory / str(rel).replace("dot-", ".")  # package data cannot hold dotfiles reliably
        if src.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        elif src.name != "__pycache__":
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            written.append(dest)
    return written


# -- sources.yaml ------------------------------------------------------------------------------------
def _read_word_list(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def check_config(root: Path) -> tuple[Config | None, list[Problem]]:
    """Read and check ``sources.yaml``; return the config (None when unusable) and every problem."""
    path = root / CONFIG_FILE
    shown = display_path(path, root)
    if not path.exists():
        return None, [
            Problem(
                shown,
                None,
                _("no {file} in {root}; run 'newsletter init DIR' or pass --root").format(
                    file=CONFIG_FILE, root=root
                ),
            )
        ]
    try:
        doc = load(path, shown)
    except InputInvalid as e:
        return None, list(e.problems)
    database_url = os.environ.get("NEWSLETTER_DATABASE_URL") or None
    return check_config_doc(doc, root, read_text=_read_word_list, database_url=database_url)


def load_config(root: Path) -> Config:
    """The checked config; raises InputInvalid listing every problem of ``sources.yaml``."""
    config, problems = check_config(root)
    if config is None:
        raise InputInvalid(problems)
    return config


# -- issues ------------------------------------------------------------------------------------------
def check_issue_file(path: Path, config: Config, display: str) -> tuple[Issue | None, list[Problem]]:
    try:
        doc = load(path, display)
    except InputInvalid as e:
        return None, list(e.problems)
    return check_issue_doc(doc, config, expected_id=path.stem)


def load_issue(config: Config, issue_id: str) -> Issue:
    """The checked issue ``issue_id``; raises InputInvalid with every problem."""
    path = issue_path(config.root, issue_id)
    if not path.exists():
        raise NotFound(
            _("no issue '{id}': {path} does not exist").format(
                id=issue_id, path=display_path(path, config.root)
            ),
            _("run 'newsletter draft {id}' to start it").format(id=issue_id),
        )
    issue, problems = check_issue_file(path, config, display_path(path, config.root))
    if issue is None:
        raise InputInvalid(problems)
    return issue


def write_program_fields(path: Path, shown: str, **values: Any) -> None:
    """Set program-owned keys in the issue file at ``path`` (atomically; the editor's text untouched)."""
    text = path.read_text(encoding="utf-8")
    atomic_write(path, set_program_fields(text, shown, **values))


# -- submissions -------------------------------------------------------------------------------------
def check_submission_file(
    source: Path | bytes, config: Config, display: str, *, plain: bool = False, now: dt.datetime | None = None
) -> tuple[Submission | None, list[Problem]]:
    """Check a submission file, or the bytes of one fetched from a partner's site (``display``: its URL);
    with ``plain``, the B1 warnings too, and with ``now`` a warning for a publication date after today
    (``validate`` shows them; collect does not need them)."""
    try:
        if isinstance(source, bytes):
            doc = parse(source, display, max_bytes=SUBMISSION_BYTES)
        else:
            doc = load(source, display, max_bytes=SUBMISSION_BYTES, instance=config.root)
    except InputInvalid as e:
        return None, list(e.problems)
    submission, problems = check_submission_doc(doc, config, now)
    if plain and config.settings.plain.enabled:
        problems += plain_language(doc, config)
    return submission, problems


def submission_files(folder: Path) -> list[Path]:
    """The YAML files in a submissions folder, in a stable order (hidden files skipped)."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in p.relative_to(folder).parts)
        if p.suffix in (".yaml", ".yml") and p.is_file() and not hidden:
            found.append(p)
    return sorted(found)


# -- progress files (monitoring/) --------------------------------------------------------------------
def progress_files(root: Path) -> list[Path]:
    """The YAML files under ``monitoring/``, in a stable order (hidden files skipped)."""
    return submission_files(root / monitoring.FOLDER)


def _progress_file(path: Path, config: Config, shown: str) -> monitoring.ProgressFile:
    try:
        doc = load(path, shown, max_bytes=monitoring.MAX_BYTES, instance=config.root)
    except InputInvalid as e:
        return monitoring.check_progress_file(shown, config, None, e.problems)
    return monitoring.check_progress_file(shown, config, doc)


def read_monitoring(config: Config, paths: Sequence[Path] | None = None) -> monitoring.Monitoring:
    """Read and check the progress files (all of them, or ``paths``) and the overlaps among all."""
    # Absolute, links not followed: a link out of the instance is judged (and refused) as the link.
    everything = [Path(os.path.abspath(p)) for p in progress_files(config.root)]
    targets = {Path(os.path.abspath(p)) for p in paths} if paths is not None else set(everything)
    # Overlaps are judged against every file, so that checking one file says what it clashes with.
    considered = sorted({*everything, *targets}, key=lambda p: display_path(p, config.root))
    return monitoring.combine(
        (_progress_file(p, config, display_path(p, config.root)), p in targets) for p in considered
    )
