"""The studio in Debian's chromium: curating from the page writes exactly the change, a save from
outside shows by itself, a concurrent edit is never overwritten, test send and approval work, the
pages fit a phone and a desktop, and axe-core finds no serious or critical problem."""

from __future__ import annotations

import difflib
import email
import email.policy
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, axe_violations
from conftest import newsletter, write_issue
from servers import Studio, running_studio

pytestmark = pytest.mark.browser

WAIT = 10_000  # ms: a bound, not a target (the benchmark measures the speed)
# The laptops entry as the draft writes it: its comment lines (the points change with the clock), then its id.
LAPTOPS = re.compile(r"      # 1\.200 opgeknapte laptops.*?\n      - item: f2f16c55bb0a\n", re.S)
STRESS = "      - item: d4f145c51826\n"


@pytest.fixture
def drafted(demo_root: Path) -> Path:
    """The demo, collected and drafted as 'newsletter draft' writes it."""
    assert newsletter(demo_root, "collect").returncode == 0
    result = newsletter(demo_root, "draft", "2026-12", "--since", "2026-11-01")
    assert result.returncode == 0, result.stderr
    return demo_root / "issues" / "2026-12.yaml"


@pytest.fixture
def studio(drafted: Path) -> Iterator[Studio]:
    with running_studio(drafted.parents[1], "2026-12") as s:
        yield s


def open_page(browser: Browser, url: str, width: int = 1280, *, javascript: bool = True) -> Any:
    page = browser.open(url, width=width, height=900, javascript=javascript)._page
    page._javascript = javascript
    return page


def note(page: Any) -> str:
    """The note of the last action. An action ends with a new note: swapped into the page (the
    script's partial update) or on a new page (a redirect, without JavaScript); so this waits for a
    note element other than the last one read (marked when read, or in a document gone since)."""
    deadline = time.monotonic() + WAIT / 1000
    seen = getattr(page, "_note_seen", None)
    while time.monotonic() < deadline:
        try:
            # Without JavaScript, elements cannot be marked: the document's start tells them apart.
            fresh = page.evaluate(
                "([seen, js]) => { const n = document.getElementById('note'); if (!n) return false;"
                " return js ? !n.dataset.read : performance.timeOrigin !== seen; }",
                [seen, page._javascript],
            )
        except Exception:  # the page navigates right now
            fresh = False
        if fresh:
            break
        page.wait_for_timeout(25)
    text = " ".join(page.locator("#note").inner_text(timeout=WAIT).split())
    page._note_seen = page.evaluate("performance.timeOrigin")
    if page._javascript:
        page.evaluate("document.getElementById('note').dataset.read = '1'")
    return text


def diff(before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a", "b"))


def test_moving_an_item_and_giving_it_a_title_writes_exactly_that(
    studio: Studio, drafted: Path, browser: Browser
) -> None:
    original = drafted.read_text(encoding="utf-8")
    found = LAPTOPS.search(original)
    assert found
    laptops = found.group(0)
    page = open_page(browser, studio.url)
    page.select_option("#move-partners-items-1", "kennis:items")
    page.locator("#section-partners li[data-item='f2f16c55bb0a']").get_by_role(
        "button", name=re.compile("^Move")
    ).click()
    assert note(page) == "Moved the entry to kennis (items)."
    entry = page.locator("#section-kennis li[data-item='f2f16c55bb0a']")
    entry.locator("summary").click()
    entry.locator("input[name=title]").fill("Laptops voor 1.200 leerlingen")
    entry.get_by_role("button", name="Save text").click()
    assert note(page) == "Saved the entry's own text."
    expected = original.replace(laptops, "", 1).replace(
        STRESS, STRESS + laptops + "        title: Laptops voor 1.200 leerlingen\n", 1
    )
    assert drafted.read_text(encoding="utf-8") == expected
    # The page shows the result: the email has the new title.
    email = page.frame_locator('iframe[title="The email at 600 pixels"]')
    email.get_by_text("Laptops voor 1.200 leerlingen").first.wait_for(timeout=WAIT)


def test_a_save_from_outside_shows_without_a_reload(studio: Studio, drafted: Path, browser: Browser) -> None:
    page = open_page(browser, studio.url)
    page.evaluate("window.notReloaded = true")
    text = drafted.read_text(encoding="utf-8")
    drafted.write_text(
        text.replace(
            "      - item: b499e0a12e49\n",
            "      - item: b499e0a12e49\n        title: Praten over geld bij de jeugdarts\n",
        ),
        encoding="utf-8",
    )
    for frame in ("The email at 600 pixels", "The email at 375 pixels"):
        page.frame_locator(f'iframe[title="{frame}"]').get_by_text(
            "Praten over geld bij de jeugdarts"
        ).first.wait_for(timeout=WAIT)
    page.locator("#section-uitgelicht .tag", has_text="own title").wait_for(timeout=WAIT)
    assert page.evaluate("window.notReloaded") is True
    # A file that does not parse: the message with its line, and the last good preview stays.
    drafted.write_text(text.replace("sections:\n", "sections: [\n", 1), encoding="utf-8")
    page.locator("#unreadable").wait_for(timeout=WAIT)
    assert "issues/2026-12.yaml:" in page.locator("#unreadable").inner_text()
    assert page.locator('iframe[title="The email at 600 pixels"]').count() == 1


def test_an_outside_edit_while_typing_is_never_overwritten(
    studio: Studio, drafted: Path, browser: Browser
) -> None:
    page = open_page(browser, studio.url)
    page.fill("#f-subject", "Mijn onderwerp")
    theirs = drafted.read_text(encoding="utf-8").replace(
        "preheader:        #", "preheader: Geschreven in een editor   #", 1
    )
    drafted.write_text(theirs, encoding="utf-8")
    page.locator("#banner").wait_for(state="visible", timeout=WAIT)
    assert "changed on disk" in page.locator("#banner").inner_text()
    assert page.input_value("#f-subject") == "Mijn onderwerp"  # the typing is kept
    page.click("#save-fields")
    assert note(page).startswith(
        "Error: issues/2026-12.yaml changed on disk since the page was loaded (saved in an editor, or in another "
        "window); your change was not written Fix: the page now shows the new version"
    )
    assert drafted.read_text(encoding="utf-8") == theirs
    assert page.input_value("#f-preheader") == "Geschreven in een editor"


def test_test_send_and_approval_from_the_page(studio: Studio, drafted: Path, browser: Browser) -> None:
    root = drafted.parents[1]
    page = open_page(browser, studio.url)
    assert page.get_by_role("button", name="Approve").is_disabled()  # no subject yet: check's error
    page.fill("#f-subject", "Fietsen, laptops en een avond in Zwolle")
    page.click("#save-fields")
    assert note(page) == "Saved: subject."
    page.fill("#test-to", "redactie@example.org")
    page.get_by_role("button", name="Send test").click()
    assert note(page) == "Test copy of 2026-12 (subject marked [TEST]) to 1 address via outbox/."
    sent = list((root / "outbox" / "2026-12" / "test").glob("test-*.eml"))
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert (message["Subject"], message["To"]) == (
        "[TEST] Fietsen, laptops en een avond in Zwolle",
        "redactie@example.org",
    )
    page.fill("#approve-by", "Anna de Vries")
    page.get_by_role("button", name="Approve").click()
    assert note(page).startswith("Approved issues/2026-12.yaml by Anna de Vries at 2026-11-26 09:0")
    assert page.locator("h1 .state").inner_text() == "approved"
    status = newsletter(root, "status")
    assert "2026-12       approved" in status.stdout


def test_pages_fit_a_phone_and_a_desktop_and_pass_axe(
    studio: Studio, browser: Browser, tmp_path: Path
) -> None:
    pages = {
        "index": f"{studio.base}/",
        "issue": studio.url,
        "filtered": f"{studio.url}?theme=meedoen&q=fiets",
        "source": f"{studio.url}/source",
        "missing": f"{studio.base}/issue/2027-01",
    }
    for width in (375, 1280):
        for name, url in pages.items():
            page = open_page(browser, url, width)
            page.wait_for_load_state("load")
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, (
                name,
                width,
            )
            found = axe_violations(page)
            assert found == [], (name, width, json.dumps(found))
            page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
            page.close()


@pytest.mark.slow
def test_an_editor_takes_the_demo_from_an_empty_draft_to_approved_without_the_yaml(
    demo_root: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    assert newsletter(demo_root, "collect").returncode == 0
    path = demo_root / "issues" / "2026-12.yaml"
    with running_studio(demo_root) as studio:
        page = open_page(browser, studio.url)
        page.fill("#new-issue", "2026-12")
        page.get_by_role("button", name="Draft it").click()
        assert note(page).startswith("Drafted issues/2026-12.yaml from 22 candidates.")
        drafted = path.read_text(encoding="utf-8")

        page.fill("#f-subject", "Fietsen, laptops en een avond in Zwolle")
        page.fill("#f-preheader", "Wat partners in november deden, wat we weten en waar we elkaar zien")
        page.fill(
            "#f-intro",
            "Deze maand: **fietsen** voor kinderen in Zwolle en opgeknapte laptops.\n\n"
            "En in december zien we elkaar in Zwolle.",
        )
        page.locator("#intro-preview strong", has_text="fietsen").wait_for(timeout=WAIT)  # the preview beside
        page.fill("#f-send_at", "2026-12-10T09:00")
        page.click("#save-fields")
        assert note(page) == "Saved: subject, preheader, intro, send time."
        # The runner-up about debts in, the sports pass out, the bicycles first.
        page.locator("#section-partners li[data-item='6ff0b9b33be2']").get_by_role(
            "button", name="Promote"
        ).click()
        assert note(page) == "Promoted the runner-up into the items."
        page.locator("#section-partners li[data-item='a59cbd015e94']").get_by_role(
            "button", name="To runners-up"
        ).click()
        assert note(page) == "Moved the entry to the runners-up."
        for _ in range(3):
            page.locator("#section-partners li[data-item='19e79284b357']").get_by_role(
                "button", name=re.compile(r"^Up")
            ).click()
            assert note(page) == "Moved the entry."
        entry = page.locator("#section-partners li[data-item='19e79284b357']")
        entry.locator("summary").click()
        entry.locator("input[name=title]").fill("Elk kind in Zwolle op de fiets naar school")
        entry.get_by_role("button", name="Save text").click()
        assert note(page) == "Saved the entry's own text."
        page.fill("#test-to", "redactie@example.org")
        page.get_by_role("button", name="Send test").click()
        assert note(page).startswith("Test copy of 2026-12")
        page.fill("#approve-by", "Anna de Vries")
        page.get_by_role("button", name="Approve").click()
        assert note(page).startswith("Approved issues/2026-12.yaml by Anna de Vries")
        assert page.locator("h1 .state").inner_text() == "approved"
    final = path.read_text(encoding="utf-8")
    check = newsletter(demo_root, "check", "2026-12")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("OK: issues/2026-12.yaml has no errors")
    changed = diff(drafted, final)
    # Every comment of the draft stays (the send_at example became the line it describes).
    kept = [ln for ln in drafted.splitlines() if ln.strip().startswith("#")]
    assert all(ln in final.splitlines() or ln.startswith("# send_at:") for ln in kept)
    with capsys.disabled():
        print("\n" + changed)


def test_the_page_of_a_missing_issue_shows_it_once_it_is_written(studio: Studio, browser: Browser) -> None:
    page = open_page(browser, f"{studio.base}/issue/2027-01")
    assert "no issue '2027-01': issues/2027-01.yaml does not exist" in page.locator("main").inner_text()
    write_issue(studio.root, "2027-01")
    page.locator("h1 .state", has_text="draft").wait_for(timeout=WAIT)
    assert page.locator("h1").inner_text().startswith("Issue 2027-01")


def changed_lines(before: str, after: str) -> list[str]:
    """The lines `git diff` shows removed (-) and added (+), hunk by hunk."""
    out = [
        ln.rstrip("\n") for ln in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
    ]
    return [ln for ln in out if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


# The draft's comments are in the instance's language (the demo's: Dutch), whatever the terminal's.
SUBJECT_LINE = "subject:          # verplicht: het onderwerp dat abonnees zien, hoogstens 60 tekens"
SEND_AT_LINE = (
    "# send_at: 2026-12-10 09:00   # wanneer 'newsletter run' hem verstuurt, in de tijd van "
    "Europe/Amsterdam (of met een verschil: +01:00)"
)


def test_one_save_writes_only_the_edited_fields_and_updates_the_page_in_place(
    studio: Studio, drafted: Path, browser: Browser
) -> None:
    original = drafted.read_text(encoding="utf-8")
    page = open_page(browser, studio.url)
    page.evaluate("window.studioMarker = 'still here'")
    origin = page.evaluate("performance.timeOrigin")
    page.fill("#f-subject", "Fietsen en laptops")
    page.fill("#f-send_at", "2026-12-10T09:00")
    page.click("#save-fields")
    assert note(page) == "Saved: subject, send time."
    saved = drafted.read_text(encoding="utf-8")
    assert changed_lines(original, saved) == [
        "-" + SUBJECT_LINE,
        "+subject: Fietsen en laptops   # verplicht: het onderwerp dat abonnees zien, hoogstens 60 tekens",
        "-" + SEND_AT_LINE,
        "+send_at: 2026-12-10 09:00   # wanneer 'newsletter run' hem verstuurt, in de tijd van "
        "Europe/Amsterdam (of met een verschil: +01:00)",
    ]
    # No navigation: the same document, with the new version in every form and the new subject shown.
    same = "[window.studioMarker, performance.getEntriesByType('navigation').length, performance.timeOrigin]"
    assert page.evaluate(same) == ["still here", 1, origin]
    written = "sha256:" + hashlib.sha256(saved.encode("utf-8")).hexdigest()
    assert page.evaluate("document.body.dataset.version") == written
    versions = page.eval_on_selector_all("input[name=version]", "els => els.map(e => e.value)")
    assert len(versions) > 10 and set(versions) == {written}
    assert page.locator(".inbox .subject").inner_text() == "Fietsen en laptops"
    assert page.evaluate("document.activeElement.id") == "save-fields"  # focus stays on the button
    # The next save from the same page is accepted (the page knows the version it wrote).
    page.fill("#f-preheader", "Wat partners deden")
    page.click("#save-fields")
    assert note(page) == "Saved: preheader."
    assert changed_lines(saved, drafted.read_text(encoding="utf-8")) == [
        "-preheader:        # de regel die mailprogramma’s na het onderwerp tonen",
        "+preheader: Wat partners deden   # de regel die mailprogramma’s na het onderwerp tonen",
    ]
    # An entry's buttons too; the focus follows the entry.
    page.locator("#section-partners li[data-item='f2f16c55bb0a']").get_by_role(
        "button", name=re.compile("^Up")
    ).click()
    assert note(page) == "Moved the entry."
    assert page.evaluate("document.activeElement.closest('li').dataset.item") == "f2f16c55bb0a"
    # It is first now, so its "Up" is disabled: the focus is on its first button that works.
    assert page.evaluate("document.activeElement.value") == "down"
    assert page.locator("#section-partners li.entry").first.get_attribute("data-item") == "f2f16c55bb0a"
    assert page.evaluate(same) == ["still here", 1, origin]


def test_typing_in_one_part_survives_a_save_in_another(
    studio: Studio, drafted: Path, browser: Browser
) -> None:
    page = open_page(browser, studio.url)
    page.fill("#f-subject", "Nog niet bewaard")
    page.locator("#section-partners li[data-item='f2f16c55bb0a']").get_by_role(
        "button", name=re.compile("^Up")
    ).click()
    assert note(page) == "Moved the entry."
    assert page.input_value("#f-subject") == "Nog niet bewaard"  # kept while typing
    assert page.locator("#banner").is_hidden()  # the page's own save: nothing to warn about
    page.click("#save-fields")
    assert note(page) == "Saved: subject."
    assert "\nsubject: Nog niet bewaard   # verplicht" in drafted.read_text(encoding="utf-8")


def test_without_javascript_the_forms_post_and_redirect(
    studio: Studio, drafted: Path, browser: Browser
) -> None:
    original = drafted.read_text(encoding="utf-8")
    page = open_page(browser, studio.url, javascript=False)
    page.fill("#f-subject", "Fietsen en laptops")
    page.click("#save-fields")
    assert note(page) == "Saved: subject."
    assert "?note=" in page.url and page.url.endswith("#fields")
    assert changed_lines(original, drafted.read_text(encoding="utf-8")) == [
        "-" + SUBJECT_LINE,
        "+subject: Fietsen en laptops   # verplicht: het onderwerp dat abonnees zien, hoogstens 60 tekens",
    ]
    page.select_option("#move-partners-items-1", "kennis:items")
    page.locator("#section-partners li[data-item='f2f16c55bb0a']").get_by_role(
        "button", name=re.compile("^Move")
    ).click()
    assert note(page) == "Moved the entry to kennis (items)."
    assert page.locator("#section-kennis li[data-item='f2f16c55bb0a']").count() == 1


def test_each_move_menu_starts_at_the_entry_s_own_section(studio: Studio, browser: Browser) -> None:
    page = open_page(browser, studio.url)
    assert page.input_value("#move-partners-items-1") == "partners:items"
    assert page.input_value("#move-partners-runners_up-0") == "partners:runners_up"
    assert page.input_value("#move-kennis-items-0") == "kennis:items"
    picked = page.eval_on_selector("#move-partners-items-1", "s => s.selectedOptions[0].textContent")
    assert picked == "Wat partners doen"
    # Move without choosing: nothing changes.
    before = (studio.root / "issues" / "2026-12.yaml").read_bytes()
    page.locator("#section-partners li[data-item='f2f16c55bb0a']").get_by_role(
        "button", name=re.compile("^Move")
    ).click()
    assert note(page) == "Nothing moved: the entry is there already."
    assert (studio.root / "issues" / "2026-12.yaml").read_bytes() == before


def test_the_send_time_picker_has_the_value_in_words_in_the_page_s_language(
    studio: Studio, browser: Browser, tmp_path: Path
) -> None:
    """The page is lang="en" here (the tests read English; test_studio_dutch.py: "nl"). How chromium
    draws the picker is its own choice: it follows the browser's language, not the page's; so the line
    below it reads the value in the page's language, and the screenshots are for a person to look at."""
    for width in (375, 1280):
        page = open_page(browser, studio.url, width)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.input_value("#f-send_at") == ""  # the draft has no send time: the picker's own text shows
        assert page.locator("#f-send_at-now").inner_text() == "Now: not scheduled"
        page.fill("#f-send_at", "2026-12-10T09:00")
        assert page.locator("#f-send_at-now").inner_text() == "Now: Thursday 10 December 2026, 09:00"
        field = page.locator("#f-send_at")
        field.scroll_into_view_if_needed()
        field.screenshot(path=str(tmp_path / f"send-at-{width}.png"))
        page.locator("#fields").screenshot(path=str(tmp_path / f"fields-{width}.png"))
        page.close()
