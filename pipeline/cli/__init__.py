"""The `newsletter` command. Each stage's commands live in their own module beside this one, and
each module is imported when one of its commands runs (``pipeline.cli.base.COMMANDS``).

Only this package prints and chooses exit statuses: 0 done; 1 failed or input invalid;
2 usage error; 3 done, but some sources failed.
"""

from __future__ import annotations

from pipeline.cli.base import main

__all__ = ["main"]
