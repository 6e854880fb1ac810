"""Curate: draft an issue from collected items, check it, approve it, and say where each issue stands.

The issue file (``issues/<id>.yaml``) is the editors' workplace. The program's writes into it are
splices that keep every other byte (``pipeline.domain.issues``): ``draft`` writes a new file, and
afterwards sets the program-owned block at its end (``status``, ``drafted``, ``approval``) and, with
``--refresh``, appends new runners-up; ``approve`` sets ``status`` and ``approval``; the studio's
curation edits (``pipeline.curate.edit``) change what an editor would change by hand; and
``pipeline.infra.approval`` sets ``status: sent`` or ``recalled`` for deliver and ``newsletter cancel``.

The entry points, one module each:

- ``draft`` (``draft.py``): rank the candidates (``pipeline.curate.ranking``) and write, or refresh,
  the file; ``default_since``, ``eligible_items`` and ``entry_lines`` for the studio;
- ``check`` and ``check_issue`` (``check.py``): what the structure check cannot see (the database,
  the images, coverage, plain Dutch) with the links' hygiene and, with ``links``, whether every link
  answers (``links.py``: ``check_links``);
- ``approve`` and ``statuses`` (``approve.py``): the approval, bound to the fingerprint of the exact
  content to be sent (``pipeline.infra.approval``: ``fingerprint``, ``approval_state``), which
  ``pipeline.deliver`` verifies before anything goes to the list; every issue's state, for
  ``newsletter status``.

``ranking`` (the candidates' points and line-up), ``balance`` (an issue's balance) and ``edit`` (the
studio's edits) are modules of their own.
"""

from __future__ import annotations

from pipeline.curate import ranking
from pipeline.curate.approve import ApprovalRefused, IssueStatus, approve, statuses
from pipeline.curate.check import check, check_issue
from pipeline.curate.draft import (
    Draft,
    DraftRefused,
    default_since,
    draft,
    draft_text,
    eligible_items,
    entry_lines,
)
from pipeline.curate.links import check_links
from pipeline.domain.issues import PROGRAM_FIELDS

__all__ = [
    "PROGRAM_FIELDS",
    "ApprovalRefused",
    "Draft",
    "DraftRefused",
    "IssueStatus",
    "approve",
    "check",
    "check_issue",
    "check_links",
    "default_since",
    "draft",
    "draft_text",
    "eligible_items",
    "entry_lines",
    "ranking",
    "statuses",
]
