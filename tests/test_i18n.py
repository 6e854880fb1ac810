"""The language people read the program in: NEWSLETTER_LANG, else the instance's
newsletter.language, else the locale, else Dutch; click's own words translated too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from pipeline.cli import language
from pipeline.domain import i18n


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as a person types it, with only the locale and language variables given here."""
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("LANG", "LC_", "NEWSLETTER_", "SENDGRID_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**keep, "PYTHONPATH": str(REPO), **env},
    )  # fmt: skip


def instance(tmp_path: Path, language: str) -> Path:
    root = tmp_path / f"instance-{language}"
    root.mkdir()
    (root / "sources.yaml").write_text(
        f"# settings\nnewsletter:\n  title: Test\n  plain_language:\n    enabled: true\n  language: {language}\n",
        encoding="utf-8",
    )
    return root


def test_outside_an_instance_help_is_dutch_unless_the_locale_says_english(tmp_path: Path) -> None:
    dutch = run(tmp_path, "--help", LANG="C.UTF-8")
    assert dutch.returncode == 0
    assert dutch.stdout.startswith("Gebruik: newsletter [OPTIONS] COMMAND [ARGS]...")
    assert "\nOpties:\n" in dutch.stdout and "Toon deze uitleg en stop." in dutch.stdout
    assert "Opdrachten:" in dutch.stdout
    english = run(tmp_path, "--help", LANG="en_US.UTF-8")
    assert english.stdout.startswith("Usage: newsletter") and "Show this message and exit." in english.stdout
    assert run(tmp_path, "--help", LANG="nl_NL.UTF-8").stdout.startswith("Gebruik:")


def test_the_instances_language_and_then_newsletter_lang_decide(tmp_path: Path) -> None:
    english_instance = instance(tmp_path, "en")
    assert run(english_instance, "--help", LANG="nl_NL.UTF-8").stdout.startswith("Usage:")
    assert run(tmp_path, "--root", str(english_instance), "--help").stdout.startswith("Usage:")
    assert run(english_instance, "--help", NEWSLETTER_LANG="nl").stdout.startswith("Gebruik:")
    dutch_instance = instance(tmp_path, "nl")
    assert run(dutch_instance, "--help", LANG="en_US.UTF-8").stdout.startswith("Gebruik:")
    assert run(dutch_instance, "--help", NEWSLETTER_LANG="en").stdout.startswith("Usage:")


def test_a_usage_error_is_dutch_with_its_fix(tmp_path: Path) -> None:
    wrong = run(tmp_path, "validate", "--no-such-option", LANG="C.UTF-8")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "Gebruik: newsletter validate [OPTIONS] [PATHS]...",
        "Typ 'newsletter validate --help' voor uitleg.",
        "",
        "Fout: Optie '--no-such-option' bestaat niet.",
    ]
    unknown = run(tmp_path, "valideer", LANG="C.UTF-8")
    assert unknown.returncode == 2 and "Fout: Opdracht 'valideer' bestaat niet." in unknown.stderr


def test_which_language_a_setting_names() -> None:
    cases = {
        "nl": "nl", "NL": "nl", "nl_NL.UTF-8": "nl", "nl-BE": "nl", "en": "en", "en_GB.UTF-8": "en",
        "de_DE.UTF-8": None, "C.UTF-8": None, "POSIX": None, "": None, None: None,
    }  # fmt: skip
    assert {code: i18n.supported(code) for code in cases} == cases
    assert language.locale_language({"LANG": "en_US.UTF-8"}) == "en"
    assert language.locale_language({"LC_ALL": "C", "LANG": "en_US.UTF-8"}) is None  # LC_ALL decides
    assert language.locale_language({"LANGUAGE": "fr:en", "LANG": "de_DE"}) == "en"
    assert language.root_from_argv(["--root", "/srv/x", "validate"], {}) == Path("/srv/x")
    assert language.root_from_argv(["--root=/srv/y", "validate"], {}) == Path("/srv/y")
    assert language.root_from_argv(["validate", "--root", "/not/this"], {"NEWSLETTER_ROOT": "/env"}) == Path(
        "/env"
    )


def test_the_instances_language_is_read_from_its_own_level(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(
        "partners:\n  - language: de\nnewsletter:\n  plain_language:\n    language: fr\n  language: 'en'  # English\n",
        encoding="utf-8",
    )
    assert language.instance_language(tmp_path) == "en"
    (tmp_path / "sources.yaml").write_text("newsletter:\n  title: x\n", encoding="utf-8")
    assert language.instance_language(tmp_path) is None


def test_a_mail_in_the_instances_language_whatever_the_terminal_reads() -> None:
    i18n.set_language("en")
    assert i18n.gettext("Options") == "Options"
    with i18n.using("nl") as chosen:
        assert chosen == "nl" and i18n.gettext("Options") == "Opties"
        assert (
            i18n.ngettext("Option {name!r} requires an argument.", "x", 1)
            == "Optie {name!r} heeft een waarde nodig."
        )
    with i18n.using("de") as chosen:  # no German catalog: the messages as written
        assert chosen == "en" and i18n.gettext("Options") == "Options"
    assert i18n.language() == "en"
