"""The `newsletter` command. Each stage's commands live in their own module beside this one.

Only this package prints and chooses exit statuses: 0 done; 1 failed or input invalid;
2 usage error; 3 done, but some sources failed.
"""

from __future__ import annotations

from pipeline.cli.base import main

# Importing a module registers its commands on ``main``.
from pipeline.cli import foundation  # noqa: F401  isort: skip
from pipeline.cli import render  # noqa: F401  isort: skip
from pipeline.cli import collect  # noqa: F401  isort: skip
from pipeline.cli import report  # noqa: F401  isort: skip
from pipeline.cli import deliver  # noqa: F401  isort: skip
from pipeline.cli import publish  # noqa: F401  isort: skip
from pipeline.cli import curate  # noqa: F401  isort: skip
from pipeline.cli import run  # noqa: F401  isort: skip

__all__ = ["main"]
