"""`newsletter demo`: the whole flow on the bundled demo instance, offline, in a fresh folder.

The demo instance lives in the repository at ``examples/demo/``: local feed files, sample
submissions (good and flawed) and sample subscribers. Every stage that exists runs here in the
order a real month goes through them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.validate import validate

DEMO_SOURCE = Path(__file__).resolve().parent.parent / "examples" / "demo"


@dataclass
class DemoResult:
    root: Path
    ok: bool = True
    files: list[tuple[str, Path]] = field(default_factory=list)


def prepare(into: Path | None) -> Path:
    """Copy the demo instance into a fresh folder and return it."""
    if not DEMO_SOURCE.is_dir():
        raise PipelineError(
            f"the demo instance is not here ({DEMO_SOURCE})",
            "run the demo from a clone of the repository (pip install -e .)",
        )
    if into is None:
        into = Path(tempfile.mkdtemp(prefix="newsletter-demo-")) / "instance"
    elif into.exists() and any(into.iterdir()):
        raise PipelineError(f"{into} is not empty", "pass a new folder to --into, or leave it out")
    shutil.copytree(
        DEMO_SOURCE, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("state", "build", "outbox")
    )
    return into


def run(into: Path | None, echo: Callable[[str], None]) -> DemoResult:
    root = prepare(into)
    result = DemoResult(root)
    echo(f"Demo instance copied to {root}")

    # 1. Validate what people wrote. The demo ships one flawed submission on purpose
    #    (submissions/rejected/), kept out of the collected folder, to show the messages.
    report = validate(root)
    echo(f"[validate] {len(report.checked)} files checked: {len(report.errors)} errors, "
         f"{len(report.warnings)} warnings")  # fmt: skip
    for p in report.problems:
        echo(f"  {p}")
    flawed = validate(root, [root / "submissions" / "rejected"])
    echo(f"[validate] a flawed submission, as a partner would see it ({len(flawed.errors)} errors):")
    for p in flawed.problems:
        echo(f"  {p}")
    if report.errors:
        result.ok = False
        return result
    return result
