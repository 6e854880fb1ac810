"""`newsletter demo [DIR]` as a newcomer runs it: where it writes, what it prints, how to go on from there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

# Every line the demo prints, written by hand; {root} is the folder's absolute path, {dir} the folder as
# given. The collect line's timing is replaced by 'T' (it varies from run to run).
EXPECTED = """\
Demo instance copied to {root}
[validate] 11 files: 0 errors, 0 warnings
[validate] files with deliberate mistakes, as their partners see them:
  flawed/onze-moestuin.yaml: 7 errors, 1 warning: a misspelt partner, theme and key, HTML in the title, \
a web address without https://, 31 November, an image without alt or consent
  flawed/beleidstaal.yaml: 14 B1 warnings: stadhuistaal, long sentences and words, passive voice
  monitoring/2026/leerplicht-rotterdam.yaml: 5 errors: a quarter as period, a misspelt theme, \
'ongeveer 200' as a number, a Dutch key, a negative number
  each one at its line, with the fix: newsletter validate flawed/onze-moestuin.yaml
[collect] 6 sources: 6 fetched, 0 unchanged, 0 failed; 22 new items, 0 updated (T s); the fietsplan story, \
in a feed and a submission: 1 item
[draft] issues/2026-12.yaml: 22 entries ranked in sections, runners-up below each
[check] issues/2026-12.yaml, as the editors wrote it: 0 errors, 3 warnings; a flawed copy: 3 errors \
(no subject, an item twice, an unknown item)
[approve] approved by Demo-redactie (sha256:1377c6de9859)
[render] build/2026-12/: email.html 29.8 KB, email.txt 5.8 KB, web.html 7.8 KB
[send --to] a test copy to 1 address in outbox/2026-12/test/
[run] issue 2026-12: 5 accepted, into outbox/2026-12/ (5 .eml files), held until 10:00; \
'newsletter cancel 2026-12' recalls it until 09:50; a second run sends nothing
[publish] at 10:05, after it went out: 1 issue(s), 8 theme, 5 province and 7 partner pages in build/site/ (56 files); \
feed: https://nieuwsbrief.example.org/archief/feed.xml
[subscribers import] subscribers.csv into the state database: 5 active
[serve] a reader signs up at /aanmelden, gets the link in outbox/aanmelden/ and follows it: confirmed; \
6 active subscribers, consent on record
[webhook] 11 signed events: 11 stored, 1 subscriber inactive (a bounce); the same body unsigned: \
refused (401: the call is not signed)
[report] build/report/index.html and 20 CSV files: 12 items from 6 of 7 partners; progress from 4 of 6 \
partners; 1 partner to call; 4 readers clicked
Open these:
  the drafted issue    {dir}/issues/2026-12.yaml
  the email            {dir}/build/2026-12/email.html
  the archive          {dir}/build/site/index.html
  the partners' report {dir}/build/report/index.html
Next: the editors' studio on this demo (the README's commands work in its folder too):
cd {dir} && {python} -m pipeline studio 2026-12
"""


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """'newsletter demo' as a person runs it in CWD (no --root: the demo needs none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_") and k != "NEWSLETTER_ROOT"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def printed(result: subprocess.CompletedProcess[str]) -> str:
    return re.sub(r"\(\d+\.\d s\)", "(T s)", result.stdout)


def test_without_dir_it_runs_in_nieuwsbrief_demo_here_and_ends_with_the_line_to_go_on(tmp_path: Path) -> None:
    result = demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    root = tmp_path / "nieuwsbrief-demo"
    assert printed(result) == EXPECTED.format(root=root, dir="nieuwsbrief-demo", python=sys.executable)
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 26  # it was 68 lines, each deliberate mistake listed
    assert len(list((root / "outbox" / "2026-12").glob("*.eml"))) == 5
    assert (root / "issues" / "2026-12.yaml").is_file() and (
        root / "build" / "report" / "index.html"
    ).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nieuwsbrief-demo"]  # nothing else, no temp folder
    # The last line works as printed: in that folder, the commands act on the demo.
    cd, command = result.stdout.splitlines()[-1].split(" && ")
    assert cd == "cd nieuwsbrief-demo"
    status = subprocess.run(
        [*command.replace(" studio 2026-12", " status").split()],
        cwd=tmp_path / cd.removeprefix("cd "),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert status.returncode == 0, status.stderr
    assert "2026-12" in status.stdout


def test_dir_is_used_as_given_and_into_still_works(tmp_path: Path) -> None:
    result = demo(tmp_path, "mijn demo")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "mijn demo"
    assert printed(result) == EXPECTED.format(root=root, dir="'mijn demo'", python=sys.executable).replace(
        "'mijn demo'/", "mijn demo/"
    )
    assert (root / "outbox" / "2026-12").is_dir() and not (tmp_path / "nieuwsbrief-demo").exists()
    into = demo(tmp_path, "--into", str(tmp_path / "elders"))
    assert into.returncode == 0, into.stderr
    assert (
        into.stdout.splitlines()[-1]
        == f"cd {tmp_path / 'elders'} && {sys.executable} -m pipeline studio 2026-12"
    )
    assert (tmp_path / "elders" / "build" / "report" / "index.html").is_file()


def test_a_folder_with_other_files_is_refused_with_the_fix_and_left_alone(tmp_path: Path) -> None:
    own = tmp_path / "nieuwsbrief-demo"
    own.mkdir()
    (own / "notities.txt").write_text("mijn eigen werk\n", encoding="utf-8")
    result = demo(tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: nieuwsbrief-demo is not empty and holds no earlier demo\n"
        "Fix: give the demo a new or empty folder: newsletter demo DIR\n"
    )
    assert [p.name for p in own.iterdir()] == ["notities.txt"]
    (tmp_path / "een-bestand").write_text("x", encoding="utf-8")
    file = demo(tmp_path, "een-bestand")
    assert file.returncode == 2 and "is a file" in file.stderr  # click's own check of DIR


def test_a_second_run_into_the_same_folder_starts_the_demo_over(tmp_path: Path) -> None:
    first = demo(tmp_path, "d")
    assert first.returncode == 0, first.stderr
    root = tmp_path / "d"
    issue = root / "issues" / "2026-12.yaml"
    issue.write_text(issue.read_text(encoding="utf-8") + "# an editor's change\n", encoding="utf-8")
    (root / "issues" / "2027-01.yaml").write_text("id: 2027-01\n", encoding="utf-8")
    second = demo(tmp_path, "d")
    assert second.returncode == 0, second.stderr
    # The same lines, but for the first: it says the earlier demo was started over.
    expected = EXPECTED.format(root=root, dir="d", python=sys.executable).replace(
        f"Demo instance copied to {root}", f"Earlier demo in {root} started over"
    )
    assert printed(second) == expected
    # What the demo made is made anew: the editor's changes in that demo are gone, one send in the outbox.
    assert "an editor's change" not in issue.read_text(encoding="utf-8")
    assert not (root / "issues" / "2027-01.yaml").exists()
    assert len(list((root / "outbox" / "2026-12").glob("*.eml"))) == 5


def test_in_dutch_the_demo_s_own_lines_read_dutch_to_the_last_line(tmp_path: Path) -> None:
    # As a person runs it: 'newsletter' on PATH, in Dutch. The last line then names 'newsletter' itself.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "newsletter"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom pipeline.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_") and k != "NEWSLETTER_ROOT"}
    env.update(PYTHONPATH=str(REPO), NEWSLETTER_LANG="nl", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    result = subprocess.run(
        ["newsletter", "demo", "mijn-demo"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = printed(result).splitlines()
    assert lines[0] == f"De demo staat in {tmp_path / 'mijn-demo'}"
    assert lines[1:7] == [
        "[validate] 11 bestanden: 0 fouten, 0 waarschuwingen",
        "[validate] bestanden met expres gemaakte fouten, zoals de partners ze zien:",
        "  flawed/onze-moestuin.yaml: 7 fouten, 1 waarschuwing: een partner, thema en veld met een tikfout, "
        "HTML in de titel, een webadres zonder https://, 31 november, een foto zonder alt of toestemming",
        "  flawed/beleidstaal.yaml: 14 B1-waarschuwingen: stadhuistaal, lange zinnen en woorden, lijdende vorm",
        "  monitoring/2026/leerplicht-rotterdam.yaml: 5 fouten: een kwartaal als periode, een thema met een "
        "tikfout, 'ongeveer 200' als getal, een Nederlands veld, een negatief getal",
        "  elke melding met zijn regel en de oplossing: newsletter validate flawed/onze-moestuin.yaml",
    ]
    assert lines[8:11] == [
        "[draft] issues/2026-12.yaml: 22 berichten op volgorde in rubrieken, met de reserves onder elke rubriek",
        "[check] issues/2026-12.yaml, zoals de redactie het schreef: 0 fouten, 3 waarschuwingen; een kopie met "
        "fouten: 3 fouten (geen onderwerp, een bericht twee keer, een onbekend bericht)",
        "[approve] goedgekeurd door Demo-redactie (sha256:1377c6de9859)",
    ]
    assert lines[12:14] == [
        "[send --to] een testmail naar 1 adres in outbox/2026-12/test/",
        "[run] nieuwsbrief 2026-12: 5 aangenomen, in outbox/2026-12/ (5 .eml-bestanden), gaat om 10:00 weg; "
        "'newsletter cancel 2026-12' haalt hem terug tot 09:50; een tweede run verstuurt niets",
    ]
    assert lines[-7:] == [
        "Open deze bestanden:",
        "  het concept          mijn-demo/issues/2026-12.yaml",
        "  de e-mail            mijn-demo/build/2026-12/email.html",
        "  het archief          mijn-demo/build/site/index.html",
        "  het partnerrapport   mijn-demo/build/report/index.html",
        "Verder: de studio van de redactie op deze demo (de opdrachten uit de README werken ook in die map):",
        "cd mijn-demo && newsletter studio 2026-12",
    ]
    assert len(lines) == 26  # one line a stage, as in English
    assert result.stderr == ""
