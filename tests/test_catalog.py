"""The message catalogs: every message a person can read has its Dutch translation, with the same
placeholders, none fuzzy, and the compiled catalog shipped in the package is made from the .po file
(scripts/catalog.py check, run here so that CI fails on a message left in English)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO


def catalog_tool() -> ModuleType:
    pytest.importorskip("babel", reason="Babel extracts the messages (pip install -e '.[test]')")
    spec = importlib.util.spec_from_file_location("catalog", REPO / "scripts" / "catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["catalog"] = module
    spec.loader.exec_module(module)
    return module


def test_every_message_has_its_dutch_translation_with_the_same_placeholders() -> None:
    assert catalog_tool().problems() == []


def test_the_check_finds_a_missing_translation_a_fuzzy_one_and_wrong_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = catalog_tool()
    monkeypatch.setattr(tool, "LOCALE", tmp_path)
    (tmp_path / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "nl" / "LC_MESSAGES" / "newsletter.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: nl\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        'msgid "Usage:"\nmsgstr "Gebruik:"\n\n'
        '#, fuzzy\nmsgid "Options"\nmsgstr "Opties"\n\n'
        'msgid "No such command {name!r}."\nmsgstr "Opdracht {naam!r} bestaat niet."\n',
        encoding="utf-8",
    )
    found = tool.problems()
    assert any("the translation of 'Options' is marked fuzzy (click/core.py:" in p for p in found)
    assert any("placeholders differ in 'No such command {name!r}.'" in p for p in found)
    assert any("no translation of 'Show this message and exit.'" in p for p in found)
    assert any("is not compiled from" in p for p in found)
    assert not any("no translation of 'Usage:'" in p for p in found)


def test_the_compiled_catalog_ships_in_the_package() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/*.mo"' in text
