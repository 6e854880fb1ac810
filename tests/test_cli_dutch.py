"""The command line in Dutch (NEWSLETTER_LANG=nl): what a Dutch user reads, written out by hand, and
a guard that no command's --help keeps an English sentence."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, newsletter, write_issue

DUTCH = {"NEWSLETTER_LANG": "nl"}


def test_newsletter_help_in_dutch(demo_root: Path) -> None:
    result = newsletter(demo_root, "--help", env=DUTCH)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:20] == [
        "Gebruik: newsletter [OPTIONS] COMMAND [ARGS]...",
        "",
        "  Haal verhalen van partners op, stel er een nieuwsbrief van samen, maak hem",
        "  op en verstuur hem.",
        "",
        "  Een gewone maand:",
        "    newsletter collect                 # feeds en inzendingen ophalen",
        "    newsletter draft 2026-12           # schrijft issues/2026-12.yaml; pas dat daarna aan",
        "    newsletter check 2026-12",
        "    newsletter render 2026-12          # open build/2026-12/email.html",
        '    newsletter approve 2026-12 --by "Naam"',
        "    newsletter run                     # vanuit cron: verstuurt als send_at is bereikt",
        "",
        "Opties:",
        "  --root MAP  De map van de omgeving (met sources.yaml). Standaard:",
        "              $NEWSLETTER_ROOT, anders de huidige map.",
        "  --version   Toon de versie en stop.",
        "  -h, --help  Toon deze uitleg en stop.",
        "",
        "Opdrachten:",
    ]
    assert "  validate     Controleer sources.yaml, inzendingen en nieuwsbrieven." in lines
    assert "  items        Toon de opgehaalde berichten, nieuwste eerst." in lines


def test_validate_help_in_dutch(demo_root: Path) -> None:
    result = newsletter(demo_root, "validate", "--help", env=DUTCH)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Gebruik: newsletter validate [OPTIONS] [PATHS]...",
        "",
        "  Controleer sources.yaml, inzendingen en nieuwsbrieven.",
        "",
        "  Elk probleem staat op een regel als PAD:REGEL: melding, met de oplossing.",
        "  Zonder PAD controleert het sources.yaml, elke inzending en elke nieuwsbrief.",
        "  De titel en samenvatting van een inzending krijgen ook advies over",
        "  eenvoudige taal (B1): lange zinnen, lange woorden, lijdende vorm,",
        "  stadhuistaal (zie docs/plain-language.md). Advies verandert de exitstatus",
        "  nooit.",
        "",
        "  Voorbeelden:",
        "    newsletter validate submissions/fietsplan.yaml",
        "    newsletter validate",
        "",
        "Opties:",
        "  --strict    Tel waarschuwingen als fouten (voor CI). B1-advies laat het",
        "              nooit mislukken.",
        "  -h, --help  Toon deze uitleg en stop.",
    ]


def test_run_help_in_dutch(demo_root: Path) -> None:
    result = newsletter(demo_root, "run", "--help", env=DUTCH)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Gebruik: newsletter run [OPTIONS]",
        "",
        "  Voor cron: ophalen, en dan elke goedgekeurde nieuwsbrief versturen waarvan",
    ]
    # The examples keep their commands; only the comments after '#' are Dutch.
    assert "  Voorbeelden:" in lines
    assert "    newsletter run                                  # vanuit cron, elke 15 minuten" in lines
    assert '    newsletter run --now "2026-12-10 09:00"         # wat er dan zou gebeuren' in lines
    assert "    newsletter run --log-json                       # voor een logverzamelaar" in lines
    assert "  --log-json  Schrijf elke gebeurtenis als één JSON-object per regel (stderr)." in lines


def test_validate_counts_in_dutch(demo_root: Path) -> None:
    ok = newsletter(demo_root, "validate", env=DUTCH)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "OK: 11 bestanden zijn in orde.\n"
    one = newsletter(
        demo_root, "validate", str(demo_root / "submissions/2026-11-zwolle-fietsplan.yaml"), env=DUTCH
    )
    assert one.stdout == "OK: submissions/2026-11-zwolle-fietsplan.yaml is in orde.\n"
    bad = newsletter(demo_root, "validate", str(demo_root / "flawed/onze-moestuin.yaml"), env=DUTCH)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[-1] == "Fout: 7 fouten, 1 waarschuwing in 1 van 1 bestand."
    assert "flawed/onze-moestuin.yaml:9: waarschuwing: " in bad.stderr


def test_an_error_and_its_fix_in_dutch(demo_root: Path) -> None:
    nothing = newsletter(demo_root, "items", env=DUTCH)
    assert nothing.returncode == 1
    assert nothing.stderr.splitlines() == [
        "Fout: nog niets opgehaald (geen database)",
        "Oplossing: draai eerst 'newsletter collect'",
    ]
    wrong = newsletter(demo_root, "items", "--since", "gisteren", env=DUTCH)
    assert wrong.returncode == 2
    assert (
        wrong.stderr.splitlines()[-1]
        == "Fout: Verkeerde waarde voor --since: 'gisteren' is geen datum zoals 2026-11-01"
    )


def test_items_and_status_in_dutch(demo_root: Path) -> None:
    assert newsletter(demo_root, "collect").returncode == 0
    items = newsletter(demo_root, "items", "--partner", "gemeente-zwolle", env=DUTCH)
    assert items.returncode == 0, items.stderr
    assert items.stdout.splitlines()[0] == "ID            DATUM       PARTNER/BRON            SOORT     TITEL"
    assert items.stderr == f"{len(items.stdout.splitlines()) - 1} berichten.\n"
    one = newsletter(demo_root, "items", "--partner", "gemeente-zwolle", "--limit", "1", env=DUTCH)
    assert one.stderr == "1 bericht.\n"
    unknown = newsletter(demo_root, "items", "--theme", "sport", env=DUTCH)
    assert unknown.stderr.splitlines()[0] == "Fout: onbekend thema 'sport'"
    assert unknown.stderr.splitlines()[1].startswith("Oplossing: gebruik een van: ")

    empty = newsletter(demo_root, "status", env=DUTCH)
    assert empty.stdout == "Nog geen nieuwsbrieven. Begin er een met: newsletter draft 2026-12\n"
    write_issue(demo_root, "2026-12", send_at="2026-12-10T09:00:00+01:00")
    draft = newsletter(demo_root, "status", env=DUTCH)
    assert draft.stdout.splitlines() == [
        "NIEUWSBRIEF   STAND                    VERZENDTIJD       BIJZONDERHEDEN",
        "2026-12       concept                  2026-12-10 09:00",
    ]
    approve = newsletter(demo_root, "approve", "2026-12", "--by", "Anna", env=DUTCH)
    assert approve.returncode == 0, approve.stderr
    assert re.fullmatch(
        r"issues/2026-12\.yaml goedgekeurd door Anna op \d{4}-\d\d-\d\d \d\d:\d\d \(sha256:[0-9a-f]{12}\)\.\n",
        approve.stdout,
    ), approve.stdout
    approved = newsletter(demo_root, "status", env=DUTCH).stdout.splitlines()
    assert re.fullmatch(
        r"2026-12       goedgekeurd              2026-12-10 09:00  goedgekeurd door Anna op \d{4}-\d\d-\d\d \d\d:\d\d",
        approved[1],
    ), approved


def test_cron_lines_in_dutch_and_json_keys_in_english(demo_root: Path) -> None:
    write_issue(demo_root, "2026-12", send_at="2026-12-10T09:00:00+01:00")
    run = newsletter(demo_root, "run", "--now", "2026-12-10 09:30", env=DUTCH)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "waarschuwing: nieuwsbrief 2026-12: niet verstuurd. Draai 'newsletter check 2026-12' en 'newsletter"
        " approve 2026-12 --by NAME'. De send_at 2026-12-10 09:00 UTC+01:00 is bereikt, maar het is een concept"
    ]
    assert run.stdout.endswith("; niets te versturen\n")
    logged = newsletter(demo_root, "run", "--now", "2026-12-10 09:30", "--log-json", env=DUTCH)
    records = [json.loads(line) for line in logged.stderr.splitlines()]
    assert [(r["level"], r["event"]) for r in records] == [("warning", "issue-skipped"), ("info", "summary")]
    assert records[0]["state"] == "draft" and records[0]["issue"] == "2026-12"
    assert records[0]["message"].startswith("nieuwsbrief 2026-12: niet verstuurd.")
    assert set(records[1]) == {"time", "level", "event", "message", "failed", "partial"}


# Every command's help as data (its own text and each option's), in one language.
HELP_SCRIPT = """
import json, sys
from pipeline.domain import i18n
i18n.set_language(sys.argv[1])
import click
from pipeline.cli.base import main

ctx = main.make_context("newsletter", [], resilient_parsing=True)
out = {}

def walk(command, path):
    out[path] = {"": command.help or ""}
    for p in command.params:
        if isinstance(p, click.Option) and p.help:
            out[path][p.opts[0]] = p.help
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            walk(command.get_command(ctx, name), f"{path} {name}")

walk(main, "newsletter")
print(json.dumps(out))
"""


def _help(language: str) -> dict[str, dict[str, str]]:
    done = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT, language],
        capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _is_command_lines(paragraph: str) -> bool:
    """Lines a user types (the examples' commands), the same in every language."""
    return all(line.strip().startswith("newsletter ") for line in paragraph.splitlines() if line.strip())


def test_no_english_sentence_is_left_in_any_commands_dutch_help() -> None:
    english, dutch = _help("en"), _help("nl")
    assert english.keys() == dutch.keys() and len(english) >= 20
    untranslated = []
    for command, texts in english.items():
        for what, text in texts.items():
            theirs = dutch[command][what]
            for mine, other in zip(text.split("\n\n"), theirs.split("\n\n"), strict=True):
                if mine == other and not _is_command_lines(mine.replace("\b", "")):
                    untranslated.append(f"{command} {what or 'help'}: {mine[:70]!r}")
    assert untranslated == []
