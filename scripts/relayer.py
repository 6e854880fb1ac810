#!/usr/bin/env python3
"""Rewrite imports of the old ``pipeline.core`` to ``pipeline.domain`` (rules and values, no I/O) and
``pipeline.infra`` (one module per outside thing); docs/architecture.md has the table.

    .venv/bin/python scripts/relayer.py FILES...      # rewrites the given files in place

For a branch written before the split: run it over the files the branch adds or changes, then
``ruff check --fix`` (import order) and ``ruff format``. It rewrites ``from pipeline.core.X import
a, b`` (names that moved to another module than the rest of X go to theirs), ``from pipeline.core
import X``, and every dotted ``pipeline.core.X[.name]`` or ``pipeline/core/X.py`` in code, strings
and docs. A moved name used through a module object (``i18n.terminal_language``) cannot be rewritten
here: it is reported, to fix by hand (the new module is named), and so is ``settings.has_state()``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Each old module -> its new one.
MODULES = {
    **{
        f"pipeline.core.{m}": f"pipeline.domain.{m}"
        for m in (
            "approval", "bulk", "config", "dutch", "errors", "i18n", "issues", "lenient", "markup",
            "models", "monitoring", "plain", "schema", "submissions", "tokens", "urls",
        )
    },
    "pipeline.core.yamlfile": "pipeline.domain.yamldoc",  # the parsed values; reading a file: below
    **{
        f"pipeline.core.{m}": f"pipeline.infra.{m}"
        for m in (
            "connections", "fetch", "files", "instance", "locking", "outbox", "retry", "sendgrid", "store",
            "subscribers", "templating", "validate", "web",
        )
    },
}  # fmt: skip

# Names that left their module: the ones that read or write files (or the store) went to infra,
# and two moves that broke the import cycle config <-> plain and models <-> issues.
NAMES = {
    ("pipeline.core.yamlfile", "load"): "pipeline.infra.yamlfile",
    ("pipeline.core.config", "check_config"): "pipeline.infra.instance",
    ("pipeline.core.config", "load_config"): "pipeline.infra.instance",
    ("pipeline.core.issues", "check_issue_file"): "pipeline.infra.instance",
    ("pipeline.core.issues", "load_issue"): "pipeline.infra.instance",
    ("pipeline.core.issues", "write_program_fields"): "pipeline.infra.instance",
    ("pipeline.core.submissions", "check_submission_file"): "pipeline.infra.instance",
    ("pipeline.core.submissions", "submission_files"): "pipeline.infra.instance",
    ("pipeline.core.monitoring", "read_monitoring"): "pipeline.infra.instance",
    ("pipeline.core.monitoring", "progress_files"): "pipeline.infra.instance",
    ("pipeline.core.approval", "approval_state"): "pipeline.infra.approval",
    ("pipeline.core.approval", "fingerprint"): "pipeline.infra.approval",
    ("pipeline.core.approval", "issue_items"): "pipeline.infra.approval",
    ("pipeline.core.approval", "mark_recalled"): "pipeline.infra.approval",
    ("pipeline.core.approval", "mark_sent"): "pipeline.infra.approval",
    ("pipeline.core.approval", "template_sources"): "pipeline.infra.approval",
    ("pipeline.core.i18n", "instance_language"): "pipeline.cli.language",
    ("pipeline.core.i18n", "locale_language"): "pipeline.cli.language",
    ("pipeline.core.i18n", "root_from_argv"): "pipeline.cli.language",
    ("pipeline.core.i18n", "terminal_language"): "pipeline.cli.language",
    ("pipeline.core.models", "Prepared"): "pipeline.domain.issues",
    ("pipeline.core.plain", "ALL"): "pipeline.domain.config",
    ("pipeline.core.plain", "RULES"): "pipeline.domain.config",
    ("pipeline.core.plain", "RULE_NAMES"): "pipeline.domain.config",
    ("pipeline.core.plain", "parse_word_list"): "pipeline.domain.config",
}
# Methods that left their value (they did I/O): reported, to fix by hand.
METHODS = {"has_state": "pipeline.infra.store.has_state(settings) (it asks the disk)"}
DATA = {"pipeline/core/data/": "pipeline/domain/data/", '"core/data/': '"domain/data/'}


PACKAGES = ("pipeline.core.store",)  # the old modules that are packages (with submodules)


def new_module(old: str) -> str:
    """The new name of module ``old`` (or of a submodule of the store package); ``old`` unchanged
    when it is no module that moved."""
    if old in MODULES:
        return MODULES[old]
    for package in PACKAGES:
        if old.startswith(package + "."):
            return MODULES[package] + old[len(package) :]
    return old


def target(module: str, name: str) -> str:
    return NAMES.get((module, name)) or new_module(module)


_FROM = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<module>pipeline\.core(?:\.[\w.]+)?)[ \t]+import[ \t]+"
    r"(?:\((?P<group>[^)]*)\)(?P<after>[^\n]*)|(?P<line>[^\n]*))",
    re.M,
)


def _names(text: str) -> tuple[list[str], str]:
    """The imported names of an import's body, and a trailing comment (``# noqa: E402``) to keep."""
    comments = re.findall(r"#[^\n]*", text)
    body = re.sub(r"#[^\n]*", "", text).replace("\\\n", " ")
    names = [" ".join(n.split()) for n in body.split(",") if n.strip()]
    return names, ("  " + comments[-1].strip()) if comments else ""


def _from_import(m: re.Match[str]) -> str:
    indent, module = m["indent"], m["module"]
    if m["group"] is not None:
        names, comment = _names(m["group"] + (m["after"] or ""))
    else:
        names, comment = _names(m["line"])
    groups: dict[str, list[str]] = {}
    for n in names:
        name = n.split(" as ")[0].strip()
        if module == "pipeline.core":  # from pipeline.core import fetch, i18n
            groups.setdefault(new_module(f"pipeline.core.{name}").rsplit(".", 1)[0], []).append(n)
        else:
            groups.setdefault(target(module, name), []).append(n)
    return "\n".join(f"{indent}from {t} import {', '.join(ns)}{comment}" for t, ns in groups.items())


_DOTTED = re.compile(r"\bpipeline\.core((?:\.\w+)+)?\b")
_PATH = re.compile(r"\bpipeline/core/(\w+)(\.py|/)")


def _dotted(m: re.Match[str]) -> str:
    parts = (m[1] or "").lstrip(".").split(".") if m[1] else []
    for i in range(len(parts), 0, -1):  # the longest prefix that is a module, then maybe a name
        module = "pipeline.core." + ".".join(parts[:i])
        if new_module(module) != module:
            rest = parts[i:]
            if rest and (module, rest[0]) in NAMES:
                return ".".join([NAMES[(module, rest[0])], *rest])
            return ".".join([new_module(module), *rest])
    return m[0]


def _path(m: re.Match[str]) -> str:
    new = new_module(f"pipeline.core.{m[1]}")
    return new.replace(".", "/") + m[2] if new != f"pipeline.core.{m[1]}" else m[0]


def rewrite(text: str) -> tuple[str, list[str]]:
    """``text`` with the new imports and names, and warnings for what must be fixed by hand."""
    warnings = []
    aliases = {}  # a module object bound by 'from pipeline.core import X [as Y]'
    for m in re.finditer(r"from[ \t]+pipeline\.core[ \t]+import[ \t]+([^\n(]+)", text):
        for n in m[1].split("#")[0].split(","):
            name, _, alias = n.strip().partition(" as ")
            aliases[alias.strip() or name] = f"pipeline.core.{name}"
    for alias, module in aliases.items():
        for (mod, name), new in NAMES.items():
            if mod == module:
                for hit in re.finditer(rf"\b{re.escape(alias)}\.{name}\b", text):
                    line = text.count("\n", 0, hit.start()) + 1
                    warnings.append(f"{line}: {alias}.{name} is now in {new}")
    for method, instead in METHODS.items():
        for hit in re.finditer(rf"\.{method}\(\)", text):
            line = text.count("\n", 0, hit.start()) + 1
            warnings.append(f"{line}: .{method}() is now {instead}")
    for old, new in DATA.items():
        text = text.replace(old, new)
    text = _FROM.sub(_from_import, text)
    text = _DOTTED.sub(_dotted, text)
    text = _PATH.sub(_path, text)
    return text, warnings


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        new, warnings = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
        for w in warnings:
            print(f"{path}:{w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
