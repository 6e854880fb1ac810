"""The language people read the program in: message catalogs (gettext), chosen once per process.

Code and templates are written with English messages, marked ``_("...")`` (``N_`` marks a message
that is translated later, where it is used; ``ngettext`` for counts). The catalogs in
``pipeline/locale/<lang>/LC_MESSAGES/newsletter.po`` translate them; the compiled ``.mo`` files
ship in the package, so it works offline. English needs no catalog: it is the messages themselves.

Which language (``pipeline.cli.language.terminal_language``): ``NEWSLETTER_LANG`` (``nl`` or
``en``) for the person at the terminal; else the instance's ``newsletter.language``; else the locale
(``LANG``...) when it names a language we have; else Dutch. A mail or page made for the instance in
its own language, whatever the terminal says, is rendered inside ``using(config.settings.language)``.

Reading the catalogs is the one read here: the compiled ``.mo`` files are part of the package (like
``data/stadhuistaal.txt``), read once per language on first use; nothing of the instance or the
outside world is read.

Catalogs are loaded on first use and cached: ``newsletter validate`` must start within 0.2 s.
Developers: ``scripts/catalog.py update`` after changing messages, then translate the empty
``msgstr`` entries and ``scripts/catalog.py compile`` (docs/i18n.md).
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

DOMAIN = "newsletter"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("nl", "en")  # the languages people can choose; English is the messages themselves
DEFAULT = "nl"
ENV = "NEWSLETTER_LANG"

_process_language = DEFAULT
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("newsletter_language", default=None)


def supported(code: str | None) -> str | None:
    """``code`` as one of LANGUAGES ('nl_NL.UTF-8' is 'nl'), or None when we do not have it."""
    if not code:
        return None
    base = re.split(r"[_.@-]", code.strip().lower(), maxsplit=1)[0]
    return base if base in LANGUAGES else None


@cache
def _translations(code: str) -> _gettext.NullTranslations:
    if code == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def language() -> str:
    """The language messages are in right now."""
    return _override.get() or _process_language


def set_language(code: str) -> None:
    """The process's language (the command line sets it once, at start)."""
    global _process_language
    _process_language = supported(code) or DEFAULT


@contextmanager
def using(code: str) -> Iterator[str]:
    """Messages in ``code`` within the block (a mail in the instance's language); yields the language."""
    chosen = supported(code) or "en"  # an instance in a language we have no catalog for reads English
    token = _override.set(chosen)
    try:
        yield chosen
    finally:
        _override.reset(token)


def gettext(message: str) -> str:
    """``message`` in the current language."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the current language."""
    return _translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalog without translating it (a constant, translated where used)."""
    return message


_ = gettext


def install(env: Any) -> None:
    """Jinja's i18n extension on ``env`` with these catalogs: ``{{ _("Save") }}``,
    ``{{ _("%(n)s items", n=3) }}`` and ``{% trans %}`` in templates, and ``lang()`` for a page's
    ``lang`` attribute. The language is looked up as each template renders, not when it is loaded."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals["lang"] = language


# -- dates in the current language (mails an instance sends; pipeline.domain.dutch for the Dutch) -------
def date(value: Any, *, weekday: bool = True) -> str:
    """``donderdag 10 december 2026`` in Dutch, ``Thursday 10 December 2026`` otherwise."""
    from pipeline.domain import dutch

    if language() == "nl":
        return dutch.date(value, weekday=weekday)
    text = f"{value.day} {value:%B %Y}"  # English month names: Python formats them without a locale
    return f"{value:%A} {text}" if weekday else text


def datetime(value: Any) -> str:
    """``donderdag 10 december 2026, 19.30 uur`` in Dutch, ``Thursday 10 December 2026, 19:30`` otherwise
    (``value`` already in the zone it is shown in)."""
    from pipeline.domain import dutch

    return dutch.datetime(value) if language() == "nl" else f"{date(value)}, {value:%H:%M}"


def time(value: Any) -> str:
    """``19.30 uur`` in Dutch, ``19:30`` otherwise."""
    from pipeline.domain import dutch

    return dutch.time(value) if language() == "nl" else f"{value:%H:%M}"
