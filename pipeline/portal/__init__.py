"""The partner portal (``/partners/`` in ``newsletter serve``): partners sign in by mail, submit and
edit their stories and report their progress in the browser, in Dutch, into the same files a
partner would write by hand (docs/portal.md).

- ``signin``: who may sign in (``contacts`` and ``monitoring_contact`` in sources.yaml), the
  single-use link (30 minutes; only its sha256 is kept) and its mail (SendGrid, or
  ``outbox/partners/``), the sessions (8 hours; only their sha256 is kept);
- ``stories``: the story form to the submission file and back, checked by validate's own code;
- ``images``: an upload decoded, re-encoded without EXIF, at most 1,200 px wide;
- ``progress``: the progress form to ``monitoring/<year>/<partner-id>.yaml``;
- ``forms``: multipart bodies read within limits (the standard library's parser);
- ``contributions``: "my contributions" (stories, issues, clicks, pledge, what is due) and the lock
  of a story in an approved issue;
- ``digest``: the editors' daily mail of the saved files (``newsletter run``) and the studio's list;
- ``repo``: ``newsletter.portal.git_commit``'s commits;
- ``app``, ``views``, ``pages``: the routes, the session and CSRF checks, the limits per client and
  per address, the pages from ``templates/portal/``.
"""

from __future__ import annotations
