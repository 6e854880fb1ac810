"""Golden files for the fixture issue: the email's HTML, its text part and the web page.

A template change shows up here as a readable diff. When the change is intended, regenerate:

    UPDATE_GOLDEN=1 pytest tests/test_render_golden.py

and review the diff of tests/golden/render/ before committing it (never in CI: with CI set, it fails).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from golden import check_golden
from test_render import render_fixture

GOLDEN = Path(__file__).resolve().parent / "golden" / "render"


def normalise(name: str, text: str) -> str:
    """One tag per line for the MJML output (a one-line diff per change), trailing spaces removed.

    The fixture fixes every date and id, and MRML's output is deterministic for a pinned
    mjml-python, so nothing else needs masking.
    """
    if name == "email.html":
        text = re.sub(r">\s*<", ">\n<", text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.parametrize("name", ["email.html", "email.txt", "web.html"])
def test_fixture_issue_matches_golden(name: str) -> None:
    rendered = render_fixture()
    actual = normalise(name, {"email.html": rendered.html, "email.txt": rendered.text,
                              "web.html": rendered.web_html}[name])  # fmt: skip
    check_golden(GOLDEN / name, actual, name, "UPDATE_GOLDEN=1 pytest tests/test_render_golden.py")
