"""The `newsletter` command. Each stage's commands live in their own module beside this one, and
each module is imported when one of its commands runs (``pipeline.cli.base.COMMANDS``).

Only this package prints and chooses exit statuses: 0 done; 1 failed or input invalid;
2 usage error; 3 done, but some sources failed.

The language is chosen before any command is defined, since their help is translated as it is
made: ``NEWSLETTER_LANG``, else the instance's ``newsletter.language``, else the locale, else
Dutch (``pipeline.cli.language``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """The ``newsletter`` command line, in the language of the person at the terminal."""
    from pipeline.cli.language import terminal_language
    from pipeline.domain import i18n

    args = list(sys.argv[1:] if argv is None else argv)
    i18n.set_language(terminal_language(args))
    from pipeline.cli.base import main as command

    command.main(args=args, prog_name="newsletter")


__all__ = ["main"]
