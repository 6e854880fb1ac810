"""The golden draft: 'newsletter draft' on the fixture database, as an editor would first see it.

A change to the ranking or the layout shows up here as a readable diff. When it is intended:

    UPDATE_GOLDEN=1 pytest tests/test_curate_golden.py

and review the diff of tests/golden/curate/ before committing it (never in CI: with CI set, it fails).
"""

from __future__ import annotations

from pathlib import Path

from golden import check_golden
from test_curate import config, drafted, store  # noqa: F401  (fixtures)

from pipeline.domain.config import Config
from pipeline.infra.store import Store

GOLDEN = Path(__file__).resolve().parent / "golden" / "curate" / "2026-12.yaml"


def normalise(text: str) -> str:
    """Trailing spaces removed. The fixture fixes every id, date and 'now', so nothing else varies."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_the_draft_matches_the_golden_file(config: Config, store: Store) -> None:  # noqa: F811 (fixtures)
    actual = normalise(drafted(config, store))
    check_golden(GOLDEN, actual, "the draft", "UPDATE_GOLDEN=1 pytest tests/test_curate_golden.py")
