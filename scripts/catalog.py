#!/usr/bin/env python3
"""The message catalogs: extract every message from the code and templates, update the catalogs,
compile them, and check them (CI runs ``check`` through tests/test_catalog.py).

    .venv/bin/python scripts/catalog.py update     # new messages in, gone ones out (translations kept)
    .venv/bin/python scripts/catalog.py compile    # .po -> .mo (shipped in the package)
    .venv/bin/python scripts/catalog.py check      # untranslated, fuzzy, placeholders, stale .mo
    .venv/bin/python scripts/catalog.py resolve    # in a merge that conflicts in the catalog: both sides

Messages: ``_("...")``, ``N_("...")`` and ``ngettext("...", "...", n)`` in pipeline/**/*.py, and
``_()`` / ``{% trans %}`` in the Jinja templates. Click's own messages ("Usage:", "Options:") are
taken from the installed click, so that --help is Dutch to the last word. docs/i18n.md.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
LOCALE = PACKAGE / "locale"
DOMAIN = "newsletter"
LANGUAGES = ("nl",)  # English is the messages themselves
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
TEMPLATE_GLOBS = ("**/*.html", "**/*.txt", "**/*.j2", "**/*.mjml")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}|%\([A-Za-z_]+\)[sd]|%[sd]")


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def shown(path: Path) -> str:
    """``path`` as the developer types it: from the repository's root."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _method_map() -> list[tuple[str, str]]:
    return [
        ("**.py", "python"),
        *((f"studio/templates/{g}", "jinja2") for g in TEMPLATE_GLOBS),
        *((f"templates/{g}", "jinja2") for g in TEMPLATE_GLOBS),
    ]


def _messages(directory: Path, method_map: list[tuple[str, str]], prefix: str) -> Iterator[tuple]:
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        directory, method_map, options_map=options, keywords=KEYWORDS, comment_tags=("NOTE:",)
    ):
        yield f"{prefix}{filename}", lineno, message, comments, context


def extract() -> Catalog:
    """Every message of the package, and click's own."""
    import click

    template = Catalog(domain=DOMAIN, project="newsletter-pipeline", charset="utf-8")
    sources = [
        _messages(PACKAGE, _method_map(), "pipeline/"),
        _messages(Path(click.__file__).parent, [("**.py", "python")], "click/"),
    ]
    for found in sources:
        for filename, lineno, message, comments, context in found:
            if filename.startswith("click/") and "_winconsole" in filename:
                continue
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="newsletter-pipeline", charset="utf-8")
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


HEADER = """\
# The Dutch messages of newsletter-pipeline (pipeline/domain/i18n.py; docs/i18n.md).
# Plain Dutch (B1): short sentences, 'je', the fix first.
# Made by 'scripts/catalog.py update'; translate each empty msgstr, then 'scripts/catalog.py compile'.
#"""


def write(catalog: Catalog, lang: str) -> None:
    # A header without dates or names: it changes only when the catalog's settings do.
    catalog.header_comment = HEADER
    catalog.fuzzy = False
    catalog.project, catalog.version = "newsletter-pipeline", "1"
    catalog.creation_date = catalog.revision_date = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    catalog.last_translator = catalog.language_team = "Samen tegen Kinderarmoede"
    catalog.msgid_bugs_address = "https://github.com/kinderarmoede/newsletter-pipeline/issues"
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    # Sorted by message and without line numbers: a new message is one small hunk in a diff, and
    # two branches that add messages merge without touching each other's lines.
    write_po(out, catalog, width=100, sort_output=True, omit_header=False, include_lineno=False)
    path.write_bytes(out.getvalue())


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    template = extract()
    for lang in LANGUAGES:
        catalog = load(lang)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        write(catalog, lang)
        missing = sum(1 for m in catalog if m.id and not _translated(m))
        total = sum(1 for m in catalog if m.id)
        print(f"{shown(po_path(lang))}: {total} messages, {missing} to translate")


def compile_all() -> None:
    for lang in LANGUAGES:
        po_path(lang).with_suffix(".mo").write_bytes(mo_bytes(load(lang)))
        print(f"{shown(po_path(lang).with_suffix('.mo'))} written")


def _translated(message: object) -> bool:
    string = message.string  # type: ignore[attr-defined]
    if isinstance(string, tuple | list):
        return all(string)
    return bool(string)


def _ids(message: object) -> tuple[str, ...]:
    mid = message.id  # type: ignore[attr-defined]
    return tuple(mid) if isinstance(mid, tuple | list) else (mid,)


def _strings(message: object) -> tuple[str, ...]:
    s = message.string  # type: ignore[attr-defined]
    return tuple(s) if isinstance(s, tuple | list) else (s,)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def problems() -> list[str]:
    """What is wrong with the catalogs, one line each (empty: all is well)."""
    template = extract()
    found: list[str] = []
    for lang in LANGUAGES:
        catalog = load(lang)
        name = shown(po_path(lang))
        for message in template:
            if not message.id:
                continue
            where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
            entry = catalog.get(message.id, context=message.context)
            if entry is None or not _translated(entry):
                found.append(f"{name}: no translation of {_ids(message)[0]!r} ({where})")
                continue
            if entry.fuzzy:
                found.append(f"{name}: the translation of {_ids(message)[0]!r} is marked fuzzy ({where})")
            ids = _ids(message)
            for i, string in enumerate(_strings(entry)):
                original = placeholders(ids[min(i, len(ids) - 1)])  # plural forms: the plural's
                if placeholders(string) != original:
                    found.append(
                        f"{name}: placeholders differ in {ids[0]!r}: "
                        f"{original} in English, {placeholders(string)} in the translation"
                    )
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
            found.append(f"{shown(mo)} is not compiled from {name}: run 'scripts/catalog.py compile'")
    return found


def resolve() -> None:
    """After a merge that conflicts in the .po file: the union of both sides' translations (the
    side being merged in wins where both translated one message differently), then update and
    compile. Run it in the middle of the merge, then ``git add`` the catalog files."""
    import subprocess

    for lang in LANGUAGES:
        path = shown(po_path(lang))
        sides = []
        for stage in (2, 3):  # ours, theirs
            text = subprocess.run(
                ["git", "show", f":{stage}:{path}"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            sides.append(read_po(io.BytesIO(text), locale=lang, domain=DOMAIN))
        merged = sides[0]
        for message in sides[1]:
            if not message.id or not _translated(message):
                continue
            mine = merged.get(message.id, context=message.context)
            if mine is None:
                merged[message.id] = message
            elif not _translated(mine) or mine.string != message.string:
                mine.string = message.string
                mine.flags = set(message.flags)
        write(merged, lang)
    update()
    compile_all()


def main(argv: Iterable[str]) -> int:
    args = list(argv)
    if args == ["update"]:
        update()
    elif args == ["compile"]:
        compile_all()
    elif args == ["resolve"]:
        resolve()
    elif args == ["check"]:
        lines = problems()
        for line in lines:
            print(line)
        print(f"{len(lines)} problem(s)")
        return 1 if lines else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
