"""The golden draft: 'newsletter draft' on the fixture database, as an editor would first see it.

A change to the ranking or the layout shows up here as a readable diff. When it is intended:

    UPDATE_GOLDEN=1 pytest tests/test_curate_golden.py

and review the diff of tests/golden/curate/ before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

from test_curate import config, drafted, store  # noqa: F401  (fixtures)

from pipeline.core.config import Config
from pipeline.core.store import Store

GOLDEN = Path(__file__).resolve().parent / "golden" / "curate" / "2026-12.yaml"


def normalise(text: str) -> str:
    """Trailing spaces removed. The fixture fixes every id, date and 'now', so nothing else varies."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_the_draft_matches_the_golden_file(config: Config, store: Store) -> None:  # noqa: F811 (fixtures)
    actual = normalise(drafted(config, store))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run UPDATE_GOLDEN=1 pytest tests/test_curate_golden.py"
    assert actual == GOLDEN.read_text(encoding="utf-8"), (
        f"the draft differs from {GOLDEN}; if the change is intended, run "
        "UPDATE_GOLDEN=1 pytest tests/test_curate_golden.py and review the diff"
    )
