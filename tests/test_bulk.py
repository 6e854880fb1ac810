"""What Gmail and Yahoo ask of bulk senders, on the rendered message: each rule passes on the
package's templates and fails when its part is missing (pipeline.domain.bulk, via 'newsletter check')."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, newsletter, write_issue

from pipeline import render
from pipeline.domain import bulk
from pipeline.domain.config import Config
from pipeline.domain.models import Rendered
from pipeline.domain.tokens import TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE, list_headers
from pipeline.infra.instance import load_config, load_issue

PATH = "issues/2026-12.yaml"
LINES = {"subject": 2, "preheader": 3}
UNSUBSCRIBE_ANCHOR = re.compile(r'<a href="<%asm_group_unsubscribe_raw_url%>"[^>]*>Afmelden</a>')


@pytest.fixture
def config(demo_root: Path) -> Config:
    return load_config(demo_root)


@pytest.fixture
def message(config: Config) -> Rendered:
    """The hand-written issue of conftest, rendered with the package's templates."""
    write_issue(config.root)
    return render.prepare(config, None, load_issue(config, "2026-12")).rendered


def check(
    config: Config, rendered: Rendered, headers: dict[str, str] | None = None
) -> list[tuple[object, ...]]:
    sent = list_headers(config.settings, rendered.issue_id) if headers is None else headers
    found = bulk.check_message(rendered, config.settings, sent, path=PATH, lines=LINES)
    return [(p.line, p.severity, p.message) for p in found]


def test_the_rendered_issue_meets_every_rule(config: Config, message: Rendered) -> None:
    assert check(config, message) == []


# -- one-click unsubscribe ---------------------------------------------------------------------------------
ONE_CLICK_MISSING = (
    None,
    "error",
    "the message has no one-click unsubscribe (List-Unsubscribe with an https address and "
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click); Gmail and Yahoo require it of bulk senders",
)


def test_one_click_unsubscribe_headers(config: Config, message: Rendered) -> None:
    # A test send's headers name only the mailto: no list, no one-click.
    assert check(config, message, list_headers(config.settings, "2026-12", test=True)) == [ONE_CLICK_MISSING]
    mailto = {
        "List-Unsubscribe": "<mailto:redactie@example.org>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert check(config, message, mailto) == [ONE_CLICK_MISSING]
    https = {
        "List-Unsubscribe": "<https://www.example.org/afmelden?u=1>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert check(config, message, https) == []
    assert check(config, message, {"List-Unsubscribe": https["List-Unsubscribe"]}) == [ONE_CLICK_MISSING]


def test_one_click_needs_the_unsubscribe_group_that_fills_it(config: Config, message: Rendered) -> None:
    settings = config.settings
    sendgrid = dataclasses.replace(settings.sendgrid, unsubscribe_group=None)
    without = dataclasses.replace(config, settings=dataclasses.replace(settings, sendgrid=sendgrid))
    assert check(without, message) == [
        (None, "warning", "sources.yaml has no newsletter.sendgrid.unsubscribe_group, so SendGrid leaves the "
         "one-click unsubscribe address empty and refuses the list send; set it to the group's id (SendGrid > "
         "Suppressions > Unsubscribe Groups)"),
    ]  # fmt: skip


def test_the_headers_of_a_list_send_and_of_a_test_send(config: Config) -> None:
    mailto = "<mailto:redactie@example.org?subject=afmelden%202026-12>"
    # RFC 2919: the title as a phrase (quoted: it holds parentheses), then LABEL.HOST of archive_url.
    list_id = '"Nieuwsbrief Samen tegen Kinderarmoede (demo)" <nieuwsbrief-samen-tegen-kinderarmoede-demo.nieuwsbrief.example.org>'
    assert list_headers(config.settings, "2026-12") == {
        "List-Unsubscribe": f"<{TOKEN_UNSUBSCRIBE}>, {mailto}",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": list_id,
    }  # what tests/test_deliver_sendgrid.py expects SendGrid to receive
    assert list_headers(config.settings, "2026-12", test=True) == {
        "List-Unsubscribe": mailto,
        "List-Id": list_id,
    }


# -- a visible unsubscribe link in both parts -------------------------------------------------------------
def test_a_visible_unsubscribe_link_in_the_html(config: Config, message: Rendered) -> None:
    assert UNSUBSCRIBE_ANCHOR.search(message.html)
    missing = (None, "error", "the HTML has no visible unsubscribe link; Gmail and Yahoo require one in the "
               'message: keep <a href="{{ v.unsubscribe_url }}">Afmelden</a> in templates/email.mjml')  # fmt: skip
    gone = dataclasses.replace(message, html=UNSUBSCRIBE_ANCHOR.sub("", message.html))
    assert check(config, gone) == [missing]
    hidden = UNSUBSCRIBE_ANCHOR.sub(
        f'<a href="{TOKEN_UNSUBSCRIBE}" style="display:none">Afmelden</a>', message.html
    )
    assert check(config, dataclasses.replace(message, html=hidden)) == [missing]
    empty = UNSUBSCRIBE_ANCHOR.sub(
        f'<a href="{TOKEN_UNSUBSCRIBE}"><img src="x.png" alt=""></a>', message.html
    )
    assert check(config, dataclasses.replace(message, html=empty)) == [missing]
    own = UNSUBSCRIBE_ANCHOR.sub('<a href="https://www.example.org/afmelden">Afmelden</a>', message.html)
    assert check(config, dataclasses.replace(message, html=own)) == []


def test_an_unsubscribe_link_in_the_text_part(config: Config, message: Rendered) -> None:
    assert TOKEN_UNSUBSCRIBE in message.text
    gone = dataclasses.replace(message, text=message.text.replace(TOKEN_UNSUBSCRIBE, ""))
    assert check(config, gone) == [
        (None, "error", "the text part has no unsubscribe link; readers of plain text need one too: keep "
         "{{ v.unsubscribe_url }} in templates/email.txt"),
    ]  # fmt: skip


def test_the_postal_address_in_both_parts(config: Config, message: Rendered) -> None:
    address = config.settings.postal_address
    assert address in message.text and address in message.html
    no_html = dataclasses.replace(message, html=message.html.replace(address, ""))
    no_text = dataclasses.replace(message, text=message.text.replace(address, ""))
    why = f"does not show the postal address ({address}), which the law asks of a newsletter"
    assert check(config, no_html) == [
        (None, "error", f"the HTML {why}; keep {{{{ v.postal_address }}}} in templates/email.mjml")
    ]
    assert check(config, no_text) == [
        (None, "error", f"the text part {why}; keep {{{{ v.postal_address }}}} in templates/email.txt")
    ]


# -- what an inbox shows first -------------------------------------------------------------------------------
def test_a_preheader_written_and_carried_by_the_html(config: Config, message: Rendered) -> None:
    assert check(config, dataclasses.replace(message, preheader="")) == [
        (3, "warning", "no preheader; write 'preheader: ...', the line mail apps show after the subject")
    ]
    other = dataclasses.replace(message, preheader="Een regel die de sjabloon niet toont")
    assert check(config, other) == [
        (None, "warning", "the HTML does not carry the preheader, so mail apps show the first words of the "
         "page instead; keep <mj-preview>{{ v.preheader }}</mj-preview> in templates/email.mjml"),
    ]  # fmt: skip


def test_a_subject_of_at_most_60_characters(config: Config, message: Rendered) -> None:
    assert check(config, dataclasses.replace(message, subject="x" * 60)) == []
    assert check(config, dataclasses.replace(message, subject="x" * 61)) == [
        (2, "warning", "the subject is 61 characters; mail apps cut it at about 60, so shorten it")
    ]


# -- Gmail's 102 KB, after SendGrid's click tracking ------------------------------------------------------------
def test_the_size_counts_each_tracked_link_and_sendgrid_s_own_links() -> None:
    url = "https://www.example.org/" + "a" * 76  # 100 bytes
    page = (
        f'<p><a href="{url}">x</a> <a clicktracking=off href="{url}">y</a> <a href="mailto:a@b.nl">z</a></p>'
    )
    assert bulk.tracked_size(page) == len(page) + 280 + 40  # only the first is tracked: 280 + 0.4 x 100
    tokens = f'<a href="{TOKEN_UNSUBSCRIBE}">af</a><a href="{TOKEN_PREFERENCES}">voorkeuren</a>'
    assert bulk.tracked_size(tokens) == len(tokens) + 2 * 300 - len(TOKEN_UNSUBSCRIBE) - len(
        TOKEN_PREFERENCES
    )


def test_the_html_under_gmail_s_clip_once_links_are_tracked(config: Config, message: Rendered) -> None:
    links = "".join(f'<p><a href="https://www.example.org/verhaal/{n}">Lees meer</a></p>' for n in range(300))
    assert len(links) < 20_000 and bulk.tracked_size(links) > 90 * 1024  # small as written, not as sent
    big = dataclasses.replace(message, html=message.html.replace("</body>", links + "</body>"))
    size = bulk.tracked_size(big.html)
    assert check(config, big) == [
        (None, "warning", f"the HTML will be about {size / 1024:.0f} KB once SendGrid tracks its links, over "
         "the 102 KB at which Gmail clips a message and hides the rest (the unsubscribe link included); "
         "leave out an item or shorten summaries"),
    ]  # fmt: skip
    near = dataclasses.replace(
        message, html=message.html.replace("</body>", links[: len(links) * 4 // 5] + "</body>")
    )
    assert "close to the 102 KB" in str(check(config, near))


# -- as an editor runs it -----------------------------------------------------------------------------------------
def test_check_fails_on_a_template_without_the_unsubscribe_link(demo_root: Path) -> None:
    write_issue(demo_root)
    ok = newsletter(demo_root, "check", "2026-12")
    assert ok.returncode == 0, ok.stderr
    templates = demo_root / "templates"
    templates.mkdir()
    shutil.copy(REPO / "pipeline" / "templates" / "email.mjml", templates / "email.mjml")
    mjml = (templates / "email.mjml").read_text(encoding="utf-8")
    anchor = re.compile(r' · <a href="\{\{ v.unsubscribe_url \}\}"[^>]*>Afmelden</a>')
    assert anchor.search(mjml)
    (templates / "email.mjml").write_text(anchor.sub("", mjml), encoding="utf-8")
    result = newsletter(demo_root, "check", "2026-12")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line for line in lines if ": warning: " not in line] == [
        "issues/2026-12.yaml: the HTML has no visible unsubscribe link; Gmail and Yahoo require one in the "
        'message: keep <a href="{{ v.unsubscribe_url }}">Afmelden</a> in templates/email.mjml',
        f"Error: 1 error, {len(lines) - 2} warnings in issues/2026-12.yaml.",
    ]
