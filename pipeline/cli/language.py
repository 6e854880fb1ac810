"""The language of a command line's output, chosen before any command is defined (their help is
translated as it is made): ``NEWSLETTER_LANG``, the instance's ``newsletter.language``, the locale,
Dutch. It reads the environment and the instance's file, so it lives here and not in
``pipeline.domain.i18n``, which only translates."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from pipeline.domain.i18n import DEFAULT, ENV, supported


def locale_language(environ: os._Environ[str] | dict[str, str]) -> str | None:
    """The language the locale names (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), when it is one we have."""
    for key in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(key)
        if value:
            for part in value.split(":"):
                found = supported(part)
                if found:
                    return found
            if key != "LANGUAGE":
                return None  # the first locale variable that is set decides (C, POSIX: no language)
    return None


def instance_language(root: Path) -> str | None:
    """``newsletter.language`` of the instance at ``root``, read cheaply (no YAML parser at start-up);
    the loaded config is the authority, this only chooses the language of ``--help``."""
    try:
        text = (root / "sources.yaml").read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None
    inside, indent = False, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip(" \t"))
        if depth == 0:
            inside = stripped.split("#", 1)[0].rstrip() == "newsletter:"
            continue
        if inside:
            indent = depth if indent is None else indent
            found = re.match(r"language:\s*['\"]?([A-Za-z_-]+)", stripped)
            if depth == indent and found:
                return found.group(1)
    return None


def root_from_argv(argv: Sequence[str], environ: os._Environ[str] | dict[str, str]) -> Path:
    """The instance folder a command line names: ``--root DIR`` (before the command), else
    ``$NEWSLETTER_ROOT``, else the current folder."""
    for i, arg in enumerate(argv):
        if arg == "--root" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--root="):
            return Path(arg.split("=", 1)[1])
        if not arg.startswith("-"):
            break  # the command: --root belongs before it
    return Path(environ.get("NEWSLETTER_ROOT") or ".")


def terminal_language(argv: Sequence[str], environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """The language of a command line's output: NEWSLETTER_LANG, the instance's, the locale's, Dutch."""
    env = os.environ if environ is None else environ
    chosen = supported(env.get(ENV))
    if chosen:
        return chosen
    configured = instance_language(root_from_argv(argv, env))
    if configured:
        return supported(configured) or "en"
    return locale_language(env) or DEFAULT
