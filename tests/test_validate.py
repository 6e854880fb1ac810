"""`newsletter validate`: every kind of bad input gets PATH:LINE: message with the fix, never a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.infra.instance import check_submission_file, load_config

# What every syntax error ends with (issue 22: say plainly why nothing else was reported).
REST = " (the rest of the file is checked once this is fixed)"

GOOD = """\
partner: gemeente-zwolle
title: Elk kind op de fiets
summary: Kinderen krijgen een opgeknapte fiets.
url: https://www.zwolle.example.nl/fiets
kind: story
themes: [meedoen]
published: 2026-11-18 10:00
"""


def write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / "submissions" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def errors_of(cli, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    result = cli("validate", str(path))
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[:-1]


def test_good_submission_prints_ok_and_exits_0(cli, demo_root):
    path = write(demo_root, "good.yaml", GOOD)
    result = cli("validate", str(path))
    assert result.exit_code == 0
    assert result.stdout == "OK: submissions/good.yaml is valid.\n"


def test_whole_instance_is_checked_without_paths(cli):
    result = cli("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 11 files are valid.\n"  # sources.yaml, 5 submissions, 5 progress files


def test_unknown_ids_get_a_suggestion_and_the_known_list(cli, demo_root):
    path = write(
        demo_root, "typo.yaml", GOOD.replace("[meedoen]", "[onderwys]").replace("gemeente-zwolle", "zwole")
    )
    assert errors_of(cli, path) == [
        "submissions/typo.yaml:1: unknown partner 'zwole': Known partners: gemeente-zwolle, jgz-fryslan, "
        "leergeld-brabant, laptopfabriek, leerplicht-rotterdam, samen-alliantie, woningcorporatie-oost",
        "submissions/typo.yaml:6: unknown theme 'onderwys': did you mean 'onderwijs'? Known themes: meedoen, "
        "fijn-thuis, ervaringskennis, inkomen-schulden, wonen, gezondheid, onderwijs, werk, signaleren",
    ]


def test_every_problem_is_reported_at_once(cli, demo_root):
    text = """\
partner: gemeente-zwolle
title: [not, text]
summary: Iets
url: ftp://files.example.nl/x
kind: story
themes: meedoen
published: 2026-11-31
ervaringsdeskundigen: ja
locaton: Zwolle
"""
    path = write(demo_root, "many.yaml", text)
    assert errors_of(cli, path) == [
        "submissions/many.yaml:2: 'title' should be text, not a list",
        "submissions/many.yaml:4: 'ftp://files.example.nl/x' is not an http(s) address; only https:// and "
        "http:// links are allowed",
        "submissions/many.yaml:7: 'published' is not a real date: 2026-11-31 (day is out of range for month); "
        "check the day and month",
        "submissions/many.yaml:8: 'ervaringsdeskundigen' should be true or false, not 'ja'",
        "submissions/many.yaml:9: unknown key 'locaton': did you mean 'location'? Known keys: partner, title, "
        "summary, url, kind, themes, provinces, published, starts, ends, location, image, "
        "ervaringsdeskundigen, horizon, contact",
    ]


def test_missing_required_fields(cli, demo_root):
    path = write(demo_root, "short.yaml", "partner: gemeente-zwolle\ntitle: Alleen een titel\nsummary: ''\n")
    assert errors_of(cli, path) == [
        "submissions/short.yaml:1: 'url' is missing; a submission needs it",
        "submissions/short.yaml:1: 'kind' is missing; a submission needs it",
        "submissions/short.yaml:1: 'themes' is missing; a submission needs it",
        "submissions/short.yaml:1: 'published' is missing; a submission needs it",
        "submissions/short.yaml:3: 'summary' is empty; it is required",
    ]


def test_a_url_without_scheme_and_a_javascript_url(cli, demo_root):
    path = write(demo_root, "urls.yaml", GOOD.replace("https://www.zwolle.example.nl/fiets", "www.zwolle.nl/fiets")
                 + "image:\n  url: javascript:alert(1)\n  alt: x\n  consent: true\n")  # fmt: skip
    assert errors_of(cli, path) == [
        "submissions/urls.yaml:4: 'www.zwolle.nl/fiets' is not a web address; write it in full, starting "
        "with https://",
        "submissions/urls.yaml:9: 'javascript:alert(1)' is not an http(s) address; only https:// and http:// "
        "links are allowed",
    ]


def test_an_address_urllib_cannot_split_is_a_problem_not_a_crash(cli, demo_root):
    for i, bad in enumerate(["http://[zwolle.nl/fiets", "https://www.zwolle.nl:poort/fiets"]):
        path = write(demo_root, f"bad{i}.yaml", GOOD.replace("https://www.zwolle.example.nl/fiets", bad))
        assert errors_of(cli, path) == [
            f"submissions/bad{i}.yaml:4: '{bad}' is not a valid web address; check the host, its brackets and the port"
        ]


def test_event_rules(cli, demo_root):
    text = GOOD.replace("kind: story", "kind: event") + "starts: 2026-12-10 19:30\nends: 2026-12-10 18:00\n"
    path = write(demo_root, "event.yaml", text)
    assert errors_of(cli, path) == [
        "submissions/event.yaml:1: 'location' is missing; an event needs a place (or 'online')",
        "submissions/event.yaml:9: 'ends' (2026-12-10 18:00) is not after 'starts' (2026-12-10 19:30)",
    ]
    story = write(demo_root, "story.yaml", GOOD + "starts: 2026-12-10\n")
    assert errors_of(cli, story) == [
        "submissions/story.yaml:8: 'starts' and 'ends' are for events; set 'kind: event'",
    ]


def test_image_needs_alt_and_consent_is_a_warning(cli, demo_root):
    path = write(demo_root, "img.yaml", GOOD + "image:\n  url: https://www.zwolle.example.nl/a.jpg\n")
    assert errors_of(cli, path) == [
        "submissions/img.yaml:8: the image needs 'alt': a short description for readers who cannot see it",
        "submissions/img.yaml:8: warning: the image has no 'consent: true', so it will not be published; add "
        "it once everyone recognisable in it (for children: their parents) agreed",
    ]
    ok = write(
        demo_root, "img2.yaml", GOOD + "image:\n  url: https://www.zwolle.example.nl/a.jpg\n  alt: Fietsen\n"
    )
    result = cli("validate", str(ok))
    assert result.exit_code == 0
    assert result.stdout == "OK: submissions/img2.yaml is valid, 1 warning.\n"
    assert cli("validate", "--strict", str(ok)).exit_code == 1


def test_length_limits(cli, demo_root):
    path = write(demo_root, "long.yaml", GOOD.replace("Elk kind op de fiets", "x" * 121))
    assert errors_of(cli, path) == [
        "submissions/long.yaml:2: 'title' is 121 characters; shorten it to at most 120"
    ]


def test_html_in_title(cli, demo_root):
    path = write(demo_root, "html.yaml", GOOD.replace("Elk kind op de fiets", "Elk <b>kind</b>"))
    assert errors_of(cli, path) == ["submissions/html.yaml:2: the title is plain text; remove the HTML tags"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("syntax.yaml", "partner: a\ntitle: Fiets: voor iedereen\n",
         "submissions/syntax.yaml:2: not valid YAML: mapping values are not allowed here; a value containing "
         f"': ' must be put in quotes{REST}"),
        ("tabs.yaml", "partner: a\n\ttitle: x\n",
         "submissions/tabs.yaml:2: not valid YAML: found character '\\t' that cannot start any token; indent "
         f"with spaces, not tabs{REST}"),
        ("empty.yaml", "# only a comment\n", "submissions/empty.yaml: file is empty; see docs/formats.md for an example"),
        ("two.yaml", "partner: a\n---\npartner: b\n",
         "submissions/two.yaml:3: holds more than one YAML document ('---'); put one story in each file"),
        ("latin1.yaml", "partner: a\ntitle: Fryslân\n".encode("latin-1"),
         "submissions/latin1.yaml:2: not UTF-8 text; save the file as UTF-8 (in most editors: Save As, "
         "encoding UTF-8)"),
        ("bomb.yaml", 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n',
         "submissions/bomb.yaml:2: not valid YAML: YAML aliases (*name) are not allowed; write the value out "
         f"in full{REST}"),
        ("dup.yaml", GOOD + "title: Nog een titel\n",
         "submissions/dup.yaml:8: 'title' appears twice (first on line 2); keep one"),
        ("list.yaml", "- partner: a\n", "submissions/list.yaml:1: a submission should be a mapping of "
         "'key: value' lines, not a list"),
        ("huge.yaml", "summary: " + "x" * 70_000 + "\n",
         "submissions/huge.yaml: file is 70,010 bytes, over the limit of 64,000"),
    ],
)  # fmt: skip
def test_files_that_cannot_be_read_get_one_clear_error(cli, demo_root, name, content, expected):
    path = write(demo_root, name, content)
    assert errors_of(cli, path) == [expected]


def test_a_missing_file(cli, demo_root):
    assert errors_of(cli, demo_root / "submissions" / "nope.yaml") == [
        "submissions/nope.yaml: file not found"
    ]


def test_dates_without_zone_are_read_in_the_instance_zone(demo_root):
    config = load_config(demo_root)
    path = write(demo_root, "tz.yaml", GOOD)
    sub, problems = check_submission_file(path, config, "tz.yaml")
    assert problems == []
    assert sub is not None
    assert sub.published == dt.datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert sub.published.utcoffset() == dt.timedelta(hours=1)
    assert sub.provinces == ("overijssel",)  # the partner's province when the story names none


def test_sources_yaml_problems(cli, demo_root):
    src = demo_root / "sources.yaml"
    text = src.read_text()
    text = text.replace("timezone: Europe/Amsterdam", "timezone: Europe/Amsterdm")
    text = text.replace("reply_to: redactie@example.org", "reply_to: redactie(at)example.org")
    text = text.replace("sector: welzijn\n", "sector: welzijnn\n", 1)
    text = text.replace("  - id: laptopfabriek\n", "  - id: jgz-fryslan\n")
    src.write_text(text)
    result = cli("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "sources.yaml:9: 'redactie(at)example.org' is not an email address (name@example.nl)",
        "sources.yaml:13: unknown time zone 'Europe/Amsterdm'; use a name like Europe/Amsterdam",
        "sources.yaml:115: unknown sector 'welzijnn': did you mean 'welzijn'? Known sectors: gemeenten, "
        "onderwijs, jeugdgezondheidszorg, welzijn, bedrijfsleven, kennisinstituten, maatschappelijk",
        "sources.yaml:127: partner id 'jgz-fryslan' is used twice; ids must be unique",
        "Error: 4 errors, 0 warnings in 1 of 1 file.",
    ]


def test_sources_yaml_missing_taxonomy_list_and_landelijk(cli, demo_root):
    src = demo_root / "sources.yaml"
    text = src.read_text().replace("    - {id: landelijk, title: Landelijk}\n", "")
    text = text.replace("  kinds:\n", "  soorten:\n", 1)
    src.write_text(text)
    result = cli("validate", "sources.yaml")
    lines = result.stderr.splitlines()
    known = (
        "groningen, friesland, drenthe, overijssel, flevoland, gelderland, utrecht, noord-holland, "
        "zuid-holland, zeeland, noord-brabant, limburg"
    )
    assert lines == [
        "sources.yaml:33: 'kinds' is missing; 'taxonomy' needs it",
        "sources.yaml:58: provinces must include 'landelijk' for work that is nationwide",
        "sources.yaml:71: unknown key 'soorten': Known keys: sections, themes, sectors, provinces, kinds, horizons",
        f"sources.yaml:129: unknown province 'landelijk': Known provinces: {known}",
        f"sources.yaml:145: unknown province 'landelijk': Known provinces: {known}",
        "Error: 5 errors, 0 warnings in 1 of 1 file.",
    ]
    assert result.exit_code == 1


def test_no_sources_yaml(tmp_path):
    from conftest import Cli

    result = Cli(tmp_path)("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"sources.yaml: no sources.yaml in {tmp_path.resolve()}; run 'newsletter init DIR' or pass --root"
    )


def test_submission_checked_against_a_broken_sources_yaml_says_so(cli, demo_root):
    (demo_root / "sources.yaml").write_text("newsletter: [\n")
    path = write(demo_root, "good.yaml", GOOD)
    assert errors_of(cli, path) == [
        "sources.yaml: fix sources.yaml first: submissions are checked against it",
        f"sources.yaml:2: not valid YAML: expected the node content, but found '<stream end>'{REST}",
    ]


ISSUE = """\
id: 2026-12
subject: Nieuwsbrief december
send_at: 2026-12-10 09:00
sections:
  - section: partners
    items:
      - item: abc123
        title: Eigen titel
      - title: Een aankondiging
        url: https://www.example.org/x
  - section: onbekend
status: verstuurd
"""


def test_issue_file_problems(cli, demo_root):
    path = demo_root / "issues" / "2026-12.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(ISSUE)
    assert errors_of(cli, path) == [
        "issues/2026-12.yaml:9: an entry needs 'item: ID' (a collected item) or, for a hand-written "
        "announcement, 'title', 'summary' and 'url' (missing: summary)",
        "issues/2026-12.yaml:11: unknown section 'onbekend': Known sections: uitgelicht, partners, kennis, agenda, voortgang",
        "issues/2026-12.yaml:12: status 'verstuurd' is not one of draft, approved, sent, recalled; the program sets it",
    ]
    renamed = demo_root / "issues" / "2027-01.yaml"
    renamed.write_text(ISSUE.replace("status: verstuurd\n", "").replace("  - section: onbekend\n", "")
                       .replace("        url:", "        summary: Tekst\n        url:"))  # fmt: skip
    assert errors_of(cli, renamed) == [
        "issues/2027-01.yaml:1: id '2026-12' does not match the file name; change it to '2027-01'"
    ]


def test_a_title_written_where_an_id_belongs_is_read_as_the_id(cli, demo_root):
    # Before issue 22 this was an error ("did you mean 'story' (Verhaal)?"); the kind's title is unambiguous.
    path = write(demo_root, "title.yaml", GOOD.replace("kind: story", "kind: Verhaal"))
    result = cli("validate", str(path))
    assert (result.exit_code, result.stdout) == (0, "OK: submissions/title.yaml is valid.\n"), result.output
