"""Render: the email (MJML through mjml-python), its text part and the web page, from a fixture issue.

The fixture issue (tests/data/render/2026-12.yaml) and its items (built here) hold one of
everything the templates show and the traps: an image without consent, one without alt text,
an editor's raw HTML, links with their own utm_*, a mailto: link, a date-only event.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Cli

from pipeline.domain import dutch
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid
from pipeline.domain.issues import Issue
from pipeline.domain.models import Image, Item, Rendered
from pipeline.domain.tokens import TOKEN_NAME, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE
from pipeline.infra.instance import check_issue_file, load_config
from pipeline.infra.templating import PACKAGE_TEMPLATES, TemplateError, environment, wrap
from pipeline.render import MjmlError, add_utm, compile_mjml, render_issue, write_build

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "pipeline" / "demo_instance"
DATA = REPO / "tests" / "data" / "render"
TZ = ZoneInfo("Europe/Amsterdam")
PREVIOUS_ISSUE = dt.date(2026, 10, 8)  # De Laptopfabriek (joined 2026-10-15) is new


def _item(item_id: str, **kw: object) -> Item:
    fields: dict[str, object] = {
        "id": item_id,
        "url": f"https://www.example.nl/{item_id}",
        "title": item_id.title(),
        "summary_html": f"<p>Samenvatting van {item_id}.</p>",
        "summary_text": f"Samenvatting van {item_id}.",
        "published": dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ),
        "source": "submissions:samen-alliantie",
        "kind": "story",
    }
    fields.update(kw)
    return Item(**fields)  # type: ignore[arg-type]


def fixture_items() -> dict[str, Item]:
    items = [
        _item(
            "laptops",
            url="https://www.laptopfabriek.example.nl/verhalen/1200-laptops",
            title="1.200 opgeknapte laptops voor leerlingen",
            summary_html="<p>Bedrijven leverden hun afgeschreven laptops in; scholen gaven ze aan "
            "leerlingen die thuis geen computer hebben.</p>",
            summary_text="Bedrijven leverden hun afgeschreven laptops in; scholen gaven ze aan leerlingen "
            "die thuis geen computer hebben.",
            partner="laptopfabriek",
            source="submissions:laptopfabriek",
            themes=("meedoen", "onderwijs"),
            image=Image(
                "https://www.laptopfabriek.example.nl/img/laptops.jpg",
                "Stapels opgeknapte laptops op een werkbank",
                True,
            ),
            ervaringsdeskundigen=True,
        ),
        _item(
            "fietsplan",
            url="https://www.zwolle.example.nl/fietsplan",
            title="Fietsplan Zwolle",
            partner="gemeente-zwolle",
            source="gemeente-zwolle",
            # No consent: the image must never be shown, the story stays.
            image=Image("https://www.zwolle.example.nl/img/kinderen.jpg", "Kinderen op de fiets", None),
        ),
        _item(
            "leerplicht",
            url="https://www.rotterdam.example.nl/leerplicht/signaleren",
            title="Leerplichtambtenaren leren armoede signaleren",
            summary_html='<p>Een training voor <a href="https://www.rotterdam.example.nl/training">'
            'leerplichtambtenaren</a>. <img src="https://www.rotterdam.example.nl/x.jpg"></p>',
            summary_text="Een training voor leerplichtambtenaren.",
            partner="leerplicht-rotterdam",
            source="submissions:leerplicht-rotterdam",
            # Consent but no alt text: not shown either.
            image=Image("https://www.rotterdam.example.nl/img/training.jpg", "", True),
        ),
        _item(
            "onderzoek",
            url="https://www.kenniscentrum.example.nl/onderzoek/geld-op-school",
            title="Wat scholen merken van geldzorgen",
            summary_html="<p>Vier op de tien leerkrachten zien het.</p>",
            summary_text="Vier op de tien leerkrachten zien het.",
            partner=None,
            source="kenniscentrum",
            kind="research",
        ),
        _item(
            "publieksacademie",
            url="https://www.example.org/agenda/publieksacademie-zwolle",
            title="Publieksacademie Kinderarmoede in Zwolle",
            kind="event",
            starts=dt.datetime(2026, 12, 16, 19, 30, tzinfo=TZ),
            ends=dt.datetime(2026, 12, 16, 21, 30, tzinfo=TZ),
            location="Stadkamer, Zwolle",
        ),
        _item(
            "online-sessie",
            url="https://www.example.org/agenda/online-sessie",
            title="Online sessie: het gesprek over geld op school",
            kind="event",
            # Stored in UTC: shown in the instance's time zone (15.00 in Amsterdam).
            starts=dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC),
            ends=dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC),
            location="online",
        ),
    ]
    return {i.id: i for i in items}


def demo_config() -> Config:
    return load_config(DEMO)


def fixture_issue(config: Config, path: Path = DATA / "2026-12.yaml") -> Issue:
    issue, problems = check_issue_file(path, config, f"issues/{path.name}")
    assert issue is not None, problems
    return issue


def render_fixture() -> Rendered:
    config = demo_config()
    return render_issue(config, fixture_issue(config), fixture_items(), previous_issue_date=PREVIOUS_ISSUE)


LOREM = (
    "Kinderen in armoede doen minder vaak mee aan sport en cultuur. De gemeente werkt met scholen, "
    "sportclubs en het jongerenwerk aan een aanpak die gezinnen zelf mee hebben bedacht; ouders met "
    "ervaring hielpen de folders herschrijven en de aanvraag korter maken. "
)


def big_issue(config: Config, n: int = 25) -> tuple[Issue, dict[str, Item]]:
    """An issue of ``n`` realistic items over all four sections (the size test and the benchmark)."""
    from pipeline.domain.issues import Entry, Section

    partners = list(config.partners)
    items: dict[str, Item] = {}
    layout = {"uitgelicht": 1, "partners": (n - 1) // 2, "kennis": (n - 1) // 4}
    layout["agenda"] = n - sum(layout.values())
    sections = []
    for sid, count in layout.items():
        entries = []
        for i in range(count):
            iid = f"{sid}-{i:02d}"
            kind = {"agenda": "event", "kennis": "research"}.get(sid, "story")
            starts = dt.datetime(2026, 12, 14 + i % 10, 19, 30, tzinfo=TZ) if kind == "event" else None
            items[iid] = _item(
                iid,
                url=f"https://www.partner{i}.example.nl/nieuws/{iid}-een-lange-titel-voor-een-verhaal",
                title=f"Een verhaal van een partner over meedoen en een fijn thuis, nummer {i + 1}",
                summary_html=f"<p>{LOREM}</p><p>Lees meer over <a href='https://www.example.nl/{iid}'>"
                "de aanpak</a>.</p>",
                summary_text=LOREM,
                partner=partners[i % len(partners)],
                kind=kind,
                starts=starts,
                ends=starts + dt.timedelta(hours=2) if starts else None,
                location="Stadkamer, Zwolle" if starts else None,
                image=Image(f"https://www.example.nl/img/{iid}.jpg", "Kinderen op een schoolplein", True)
                if sid == "uitgelicht"
                else None,
            )
            entries.append(Entry(line=0, item=iid))
        sections.append(Section(sid, 0, tuple(entries)))
    issue = Issue(
        "2026-12", "issues/2026-12.yaml", "Fietsen, laptops en een avond in Zwolle",
        "Wat partners deze maand deden", "Beste lezer, dit is de **decembereditie**.",
        dt.datetime(2026, 12, 10, 9, 0, tzinfo=TZ), "draft", tuple(sections),
    )  # fmt: skip
    return issue, items


# -- Dutch dates ----------------------------------------------------------------------------------


def test_dutch_dates_need_no_locale() -> None:
    assert (
        dutch.datetime(dt.datetime(2026, 12, 9, 19, 30, tzinfo=TZ)) == "woensdag 9 december 2026, 19.30 uur"
    )
    assert dutch.date(dt.date(2027, 3, 1), weekday=False) == "1 maart 2027"
    assert dutch.month(dt.date(2026, 5, 4)) == "mei 2026"
    assert dutch.time(dt.time(9, 5)) == "9.05 uur"


def test_dutch_datetime_is_shown_in_the_instance_time_zone() -> None:
    # 18.30 UTC in winter is 19.30 in Amsterdam; in summer 18.30 UTC is 20.30.
    assert dutch.datetime(dt.datetime(2026, 12, 9, 18, 30, tzinfo=dt.UTC), TZ).endswith("19.30 uur")
    assert (
        dutch.datetime(dt.datetime(2026, 7, 1, 18, 30, tzinfo=dt.UTC), TZ)
        == "woensdag 1 juli 2026, 20.30 uur"
    )


def test_event_spans() -> None:
    start = dt.datetime(2026, 12, 10, 19, 30, tzinfo=TZ)
    assert dutch.span(start, start + dt.timedelta(hours=2)) == "donderdag 10 december 2026, 19.30–21.30 uur"
    assert dutch.span(start) == "donderdag 10 december 2026, 19.30 uur"
    assert (
        dutch.span(start, start + dt.timedelta(days=1))
        == "donderdag 10 december 2026, 19.30 uur tot vrijdag 11 december 2026, 19.30 uur"
    )
    day = dt.datetime(2026, 12, 10, tzinfo=TZ)
    assert dutch.span(day) == "donderdag 10 december 2026"  # all day: no "0.00 uur"
    assert dutch.span(day, day + dt.timedelta(days=2)) == (
        "donderdag 10 december 2026 tot en met zaterdag 12 december 2026"
    )


# -- the email --------------------------------------------------------------------------------------

HREF = re.compile(r'href="([^"]*)"')


def test_email_is_compiled_mjml_in_dutch() -> None:
    r = render_fixture()
    assert "<mj-" not in r.html
    assert r.html.count("<!--[if") == r.html.count("<![endif]-->") > 0
    assert '<html lang="nl"' in r.html and '<html lang="nl"' in r.web_html
    assert r.subject == "Fietsen, laptops en een avond in Zwolle"
    assert r.preheader.startswith("Wat partners deze maand deden")
    assert r.preheader in r.html  # the hidden preview text
    assert "donderdag 10 december 2026" in r.html  # the issue date in the header
    assert "woensdag 16 december 2026, 19.30–21.30 uur, Stadkamer, Zwolle" in r.html
    # Stored in UTC, shown in Amsterdam's time.
    assert "donderdag 3 december 2026, 15.00–16.00 uur, online" in r.html


def test_every_link_is_absolute_and_the_tokens_reach_html_and_text_unescaped() -> None:
    r = render_fixture()
    hrefs = HREF.findall(r.html)
    assert hrefs
    tokens = {TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES}
    for href in hrefs:
        assert href in tokens or href.startswith(("https://", "http://", "mailto:")), href
    assert f'href="{TOKEN_UNSUBSCRIBE}"' in r.html and f'href="{TOKEN_PREFERENCES}"' in r.html
    assert f"Beste {TOKEN_NAME}," in r.html and f"Beste {TOKEN_NAME}," in r.text
    assert f"\n{TOKEN_UNSUBSCRIBE}\n" in r.text and f"\n{TOKEN_PREFERENCES}\n" in r.text
    assert "nl-token" not in r.html + r.text + r.web_html


def test_web_page_has_nothing_personal_and_links_to_the_archive() -> None:
    r = render_fixture()
    for token in (TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES, "asm_", "utm_medium=email"):
        assert token not in r.web_html
    assert 'href="https://nieuwsbrief.example.org/archief/"' in r.web_html
    assert "<table" not in r.web_html
    headings = [int(h) for h in re.findall(r"<h([1-6])\b", r.web_html)]
    assert headings[0] == 1 and headings.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings)), headings


def test_utm_goes_on_outbound_links_only() -> None:
    r = render_fixture()
    campaign = "utm_source=nieuwsbrief&amp;utm_medium=email&amp;utm_campaign=nieuwsbrief-2026-12"
    assert f'href="https://www.zwolle.example.nl/fietsplan?{campaign}"' in r.html
    # A link inside a feed's summary gets them too.
    assert f'href="https://www.rotterdam.example.nl/training?{campaign}"' in r.html
    # The partner's own utm_* wins; mailto: is left alone.
    assert 'href="https://www.zwolle.example.nl/plan?utm_source=zwolle"' in r.html
    assert 'href="mailto:redactie@example.org"' in r.html
    assert "(https://www.zwolle.example.nl/plan?utm_source=zwolle)" in r.text
    # A link in a summary gets them in the text part as well, and wrapping never breaks a URL.
    tagged = "https://www.rotterdam.example.nl/training?utm_source=nieuwsbrief&utm_medium=email&utm_campaign=nieuwsbrief-2026-12"
    assert f"\n({tagged}).\n" in r.text
    assert (
        "\nhttps://www.zwolle.example.nl/fietsplan?utm_source=nieuwsbrief&utm_medium=email&utm_campaign=nieuwsbrief-2026-12\n"
        in r.text
    )


def test_images_need_consent_and_alt_text() -> None:
    r = render_fixture()
    for out in (r.html, r.web_html):
        assert 'src="https://www.laptopfabriek.example.nl/img/laptops.jpg"' in out
        assert 'alt="Stapels opgeknapte laptops op een werkbank"' in out
        assert "kinderen.jpg" not in out  # no consent
        assert "training.jpg" not in out  # no alt text
        assert "x.jpg" not in out  # an <img> inside a feed's summary
        # ... and their stories are still there.
        assert "Zwolle fietst naar school" in out and "Leerplichtambtenaren leren armoede signaleren" in out
    for img in re.findall(r"<img\b[^>]*>", r.html + r.web_html):
        assert re.search(r'\balt="[^"]+"', img), img


def test_editors_markup_is_made_safe() -> None:
    r = render_fixture()
    for out in (r.html, r.web_html):
        assert "<script" not in out
        assert "&lt;script&gt;alert(" in out  # the editor's raw HTML is shown as text
        assert "<strong>drie verhalen</strong>" in out  # ... and their Markdown works
        assert "<em>nieuw</em>" in out  # an override's summary is Markdown too


def test_featured_story_sections_new_partners_and_runners_up() -> None:
    r = render_fixture()
    # The featured story comes first, under its section's title, with its image.
    uitgelicht = r.html.index("Uitgelicht")
    assert uitgelicht < r.html.index("laptops.jpg") < r.html.index("Wat partners doen")
    assert (
        r.text.index("UITGELICHT")
        < r.text.index("1.200 opgeknapte laptops")
        < r.text.index("WAT PARTNERS DOEN")
    )
    assert "Kenniscentrum Armoede en Jeugd · Onderzoek" in r.text  # a source's name when no partner
    assert "Met ervaringsdeskundigen" in r.html
    # De Laptopfabriek joined on 2026-10-15, after the previous issue (2026-10-08).
    assert "Nieuwe partners" in r.html and "- De Laptopfabriek (Bedrijfsleven, Landelijk)" in r.text
    assert "never-rendered" not in r.html + r.text + r.web_html


def test_new_partners_since_the_previous_issue_or_the_last_62_days() -> None:
    config = demo_config()
    issue, items = fixture_issue(config), fixture_items()
    later = render_issue(config, issue, items, previous_issue_date=dt.date(2026, 11, 12))
    assert "Nieuwe partners" not in later.html
    # No previous issue: 62 days before 10 December is 9 October; joined 15 October counts.
    first = render_issue(config, issue, items)
    assert "Nieuwe partners" in first.html and "De Laptopfabriek" in first.text
    as_datetime = render_issue(
        config, issue, items, previous_issue_date=dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    )
    assert "Nieuwe partners" not in as_datetime.html


def test_text_part_reads_as_text() -> None:
    text = render_fixture().text
    editor = '<script>alert("editor\'s raw HTML is shown as text")</script>'
    assert editor in text  # shown as the editor typed it: text is not HTML
    rest = text.replace(TOKEN_UNSUBSCRIBE, "").replace(TOKEN_PREFERENCES, "").replace(editor, "")
    assert "<" not in rest and "&amp;" not in rest and "&#" not in rest
    assert "WAT PARTNERS DOEN\n=================\n" in text
    assert "Welkom bij de decembereditie. Deze maand drie verhalen van partners," in text
    assert "Mail de redactie\n(redactie@example.org)." in text
    assert all(len(line) <= 72 or line.strip().startswith(("http", "(http")) for line in text.splitlines())


def test_add_utm_keeps_the_partners_query_as_written() -> None:
    utm = {"source": "nieuwsbrief", "campaign": "nb-{issue}"}
    assert add_utm("https://a.nl/x?q=a%20b&flag", utm, "2026-12") == (
        "https://a.nl/x?q=a%20b&flag&utm_source=nieuwsbrief&utm_campaign=nb-2026-12"
    )
    assert (
        add_utm("https://a.nl/x#deel", utm, "1")
        == "https://a.nl/x?utm_source=nieuwsbrief&utm_campaign=nb-1#deel"
    )
    assert add_utm("https://a.nl/?UTM_Source=x", utm, "1") == "https://a.nl/?UTM_Source=x"
    assert add_utm("mailto:a@b.nl", utm, "1") == "mailto:a@b.nl"
    assert add_utm("https://a.nl/", {}, "1") == "https://a.nl/"


def test_wrap_breaks_between_words_only() -> None:
    assert wrap("een twee drie vier", 9) == "een twee\ndrie vier"
    assert wrap("zie https://www.example.nl/een/heel/lang/adres hier", 10) == (
        "zie\nhttps://www.example.nl/een/heel/lang/adres\nhier"
    )
    assert wrap("regel een\nregel twee", 72) == "regel een\nregel twee"
    # A blank line between paragraphs stays: the text part's paragraphs depend on it.
    assert wrap("alinea een\n\n  \nalinea twee", 72) == "alinea een\n\n\nalinea twee"


def test_a_missing_item_names_the_issue_line() -> None:
    config = demo_config()
    items = fixture_items()
    del items["onderzoek"]
    with pytest.raises(InputInvalid) as e:
        render_issue(config, fixture_issue(config), items)
    line = (DATA / "2026-12.yaml").read_text().splitlines().index("      - item: onderzoek") + 1
    assert str(e.value).startswith(
        f"issues/2026-12.yaml:{line}: item 'onderzoek' is not in the state database;"
    )


def test_a_25_item_issue_stays_well_under_gmail_clipping() -> None:
    config = demo_config()
    issue, items = big_issue(config)
    r = render_issue(config, issue, items)
    assert len(issue.entries()) == 25
    size = len(r.html.encode())
    assert 30_000 < size < 100 * 1024, size
    assert r.html.count("Een verhaal van een partner") == 25


@pytest.mark.parametrize("folder", [None, REPO / "templates"], ids=["package", "alliance"])
def test_themes_meet_wcag_aa_contrast(folder: Path | None) -> None:
    theme = environment(folder).get_template("theme.j2").module

    def luminance(colour: str) -> float:
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def contrast(a: str, b: str) -> float:
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    pairs = [("text", "card"), ("muted", "card"), ("muted", "page"), ("link", "card"), ("on_brand", "brand")]
    for fg, bg in pairs:
        assert contrast(getattr(theme, fg), getattr(theme, bg)) >= 4.5, (fg, bg)


# -- templates: overrides and errors -----------------------------------------------------------------


def _instance(tmp_path: Path, **templates: str) -> Config:
    import shutil
    from dataclasses import replace

    root = tmp_path / "instance"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("templates"))
    folder = root / "templates"
    folder.mkdir()
    for name, text in templates.items():
        (folder / name.replace("_", ".")).write_text(text)
    return replace(load_config(root), root=root)


def test_instance_templates_override_the_package_defaults(tmp_path: Path) -> None:
    theme = (PACKAGE_TEMPLATES / "theme.j2").read_text().replace('brand = "#1d4e89"', 'brand = "#7a1f3d"')
    config = _instance(tmp_path, theme_j2=theme)
    r = render_issue(config, fixture_issue(config), fixture_items())
    assert "#7a1f3d" in r.html and "#7a1f3d" in r.web_html
    # The alliance's own instance (this repository's root) ships its brand colours the same way.
    alliance = (REPO / "templates" / "theme.j2").read_text()
    assert "brand" in alliance and "#1d4e89" not in alliance


def test_a_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    lines = (PACKAGE_TEMPLATES / "email.txt").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text == "{% if v.reply_to %}")
    lines[line - 1] = "{% iff v.reply_to %}"
    config = _instance(tmp_path, email_txt="\n".join(lines))
    with pytest.raises(TemplateError) as e:
        render_issue(config, fixture_issue(config), fixture_items())
    assert e.value.message == f"templates/email.txt:{line}: Encountered unknown tag 'iff'."
    assert e.value.hint == "fix the template syntax on that line"


def test_an_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    config = _instance(tmp_path, web_html="<!doctype html>\n<html lang=nl>\n<p>{{ v.titel }}</p>\n")
    with pytest.raises(TemplateError) as e:
        render_issue(config, fixture_issue(config), fixture_items())
    assert e.value.message.startswith("templates/web.html:3: UndefinedError: ")
    assert "titel" in e.value.message


def test_an_mjml_error_shows_the_mjml_lines(tmp_path: Path) -> None:
    mjml = (PACKAGE_TEMPLATES / "email.mjml").read_text().replace("<mj-divider", "<mj-dividr", 1)
    config = _instance(tmp_path, email_mjml=mjml)
    with pytest.raises(MjmlError) as e:
        render_issue(config, fixture_issue(config), fixture_items())
    message = e.value.message
    assert "unknown MJML element <mj-dividr>" in message
    assert re.search(r"^>\s+\d+ \| \s*<mj-dividr border-width", message, re.M), message


def test_an_unclosed_mjml_element_is_reported_where_it_opens() -> None:
    with pytest.raises(MjmlError) as e:
        compile_mjml("<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n</mj-section>\n</mj-body>\n</mjml>\n")
    assert (
        "line 5: </mj-section> does not close anything open here (<mj-column> opened on line 4)"
        in e.value.message
    )


@pytest.mark.parametrize(
    ("mjml", "message"),
    [
        (
            '<mj-text padding=0">hi</mj-text>',
            '3: <mj-text> has a badly written attribute (write them as name="value")',
        ),
        (
            "<mj-text>hi</mj-column>",
            "3: </mj-column> does not close anything open here (<mj-text> opened on line 3)",
        ),
    ],
)
def test_mjml_mistakes_name_their_line(mjml: str, message: str) -> None:
    source = (
        f"<mjml>\n<mj-body><mj-section><mj-column>\n{mjml}\n</mj-column></mj-section></mj-body>\n</mjml>\n"
    )
    with pytest.raises(MjmlError) as e:
        compile_mjml(source)
    assert f"MJML from email.mjml, line {message}" in e.value.message
    assert f">    3 | {mjml}" in e.value.message


def test_an_mjml_element_never_closed() -> None:
    with pytest.raises(MjmlError, match=r"line 2: <mj-body> is never closed"):
        compile_mjml("<mjml>\n<mj-body>\n")


def test_hostile_item_fields_cannot_break_out_of_the_mjml() -> None:
    import dataclasses

    config = demo_config()
    items = fixture_items()
    items["onderzoek"] = dataclasses.replace(
        items["onderzoek"],
        title='</mj-text></mj-column><mj-raw><script>alert(1)</script></mj-raw> "quoted"',
        location="<mj-raw>x</mj-raw>",
    )
    r = render_issue(config, fixture_issue(config), items)
    for out in (r.html, r.web_html):
        assert "<script" not in out and "<mj-" not in out
        assert "&lt;/mj-text&gt;&lt;/mj-column&gt;&lt;mj-raw&gt;&lt;script&gt;" in out
    assert '</mj-text></mj-column><mj-raw><script>alert(1)</script></mj-raw> "quoted"' in r.text


def test_the_web_page_may_not_show_personal_parts(tmp_path: Path) -> None:
    config = _instance(tmp_path, web_html="<p>{{ v.unsubscribe_url }}</p>")
    with pytest.raises(TemplateError, match=r"web\.html shows a per-recipient part"):
        render_issue(config, fixture_issue(config), fixture_items())


# -- writing and the command ---------------------------------------------------------------------------


def test_write_build_writes_three_files(tmp_path: Path) -> None:
    config = _instance(tmp_path)
    r = render_fixture()
    paths = write_build(config, r)
    assert [p.relative_to(config.root).as_posix() for p in paths] == [
        "build/2026-12/email.html", "build/2026-12/email.txt", "build/2026-12/web.html",
    ]  # fmt: skip
    # The build folder is a preview: tokens filled as in a test send, everything else as rendered.
    assert TOKEN_NAME in r.text and TOKEN_UNSUBSCRIBE in r.text
    preview = paths[1].read_text()
    assert "Beste lezer," in preview
    assert TOKEN_NAME not in preview and TOKEN_UNSUBSCRIBE not in preview
    assert "mailto:" in preview
    assert paths[2].read_text() == r.web_html
    assert not list(paths[0].parent.glob(".*.tmp"))


def _store_items(root: Path, items: dict[str, Item]) -> None:
    from pipeline.infra.store import Store

    config = load_config(root)
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    with Store(config.settings.state) as store, store.transaction():
        for item in items.values():
            store.put_item(item, f"hash-{item.id}", now)


def test_render_command_writes_and_reports_sizes(cli: Cli, demo_root: Path) -> None:
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text((DATA / "2026-12.yaml").read_text())
    _store_items(demo_root, fixture_items())
    result = cli("render", "2026-12")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"build/2026-12/email\.html +\d+\.\d KB", lines[0]), lines
    assert re.fullmatch(r"build/2026-12/email\.txt +\d+\.\d KB", lines[1])
    assert re.fullmatch(r"build/2026-12/web\.html +\d+\.\d KB", lines[2])
    assert lines[3] == "Subject: Fietsen, laptops en een avond in Zwolle"
    assert "Warning" not in result.output
    assert "Afmelden" in (demo_root / "build" / "2026-12" / "email.html").read_text()


def test_render_command_warns_near_gmail_clipping(cli: Cli, demo_root: Path) -> None:
    entries = "".join(
        f"      - title: Aankondiging {i}\n        summary: {'Een lange tekst over meedoen. ' * 48}\n"
        f"        url: https://www.example.org/{i}\n"
        for i in range(70)
    )
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(
        f"id: 2026-12\nsubject: Groot\nsections:\n  - section: partners\n    items:\n{entries}"
    )
    result = cli("render", "2026-12")
    assert result.exit_code == 0
    assert "Warning: email.html is " in result.output
    assert "Gmail clips messages over 102.0 KB" in result.output


def test_render_command_names_a_missing_item(cli: Cli, demo_root: Path) -> None:
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(
        "id: 2026-12\nsections:\n  - section: partners\n    items:\n      - item: nergens\n"
    )
    result = cli("render", "2026-12")
    assert result.exit_code == 1
    assert (
        "issues/2026-12.yaml:5: item 'nergens' is not in the state database; run 'newsletter collect'"
        in result.output
    )
    assert not (demo_root / "build").exists()


def test_new_partners_count_from_the_last_issue_sent(cli: Cli, demo_root: Path) -> None:
    from pipeline.infra.store import Store

    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text((DATA / "2026-12.yaml").read_text())
    _store_items(demo_root, fixture_items())
    assert cli("render", "2026-12").exit_code == 0
    email = demo_root / "build" / "2026-12" / "email.html"
    assert "Nieuwe partners" in email.read_text()  # no issue sent yet: the last 62 days
    config = load_config(demo_root)
    sent = Rendered("2026-11", "November", "", "<html></html>", "tekst", "<html></html>")
    with Store(config.settings.state) as store, store.transaction():
        store.record_sent_issue(sent, "fp", [], dt.datetime(2026, 11, 12, 8, 0, tzinfo=dt.UTC))
    assert cli("render", "2026-12").exit_code == 0
    assert "Nieuwe partners" not in email.read_text()  # De Laptopfabriek joined before 12 November
