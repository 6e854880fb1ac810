"""Creating a new instance (`newsletter init`) from the skeleton that ships with the package."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.core.errors import PipelineError

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
