"""`newsletter studio` as a process, over HTTP: the listing, the rules for --host and the password,
CSRF, clear pages for a broken, missing or huge file, and that reading changes no file."""

from __future__ import annotations

import hashlib
import html
import re
import time
from pathlib import Path

import httpx
import pytest
from conftest import Sent, make_item, newsletter, seed, write_issue
from servers import running_studio

from pipeline.infra.instance import load_config
from pipeline.infra.store import Store


def token(page: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert m, page[:300]
    return m.group(1)


def version(page: str) -> str:
    m = re.search(r'name="version" value="([^"]+)"', page)
    assert m
    return m.group(1)


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "state" not in p.relative_to(root).parts
    }


def test_host_beyond_loopback_is_refused_without_a_password(demo_root: Path) -> None:
    refused = newsletter(demo_root, "studio", "2026-12", "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "Error: --host 0.0.0.0 would let anyone who can reach this computer use the service, and no password is set",
        "Fix: leave out --host to use it on this computer only (127.0.0.1), or set NEWSLETTER_STUDIO_PASSWORD to a long password first",
    ]
    assert refused.stdout == ""
    bad = newsletter(demo_root, "studio", "../etc")
    assert bad.returncode == 2 and "is not an issue id" in bad.stderr


def test_without_an_issue_it_lists_every_issue_with_its_state(demo_root: Path) -> None:
    write_issue(demo_root, "2026-10")
    write_issue(demo_root, "2026-11", send_at="2026-11-12 09:00")
    write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    write_issue(demo_root, "2027-01")
    assert newsletter(demo_root, "approve", "2026-12", "--by", "Anna").returncode == 0
    assert newsletter(demo_root, "approve", "2027-01", "--by", "Anna").returncode == 0
    path = demo_root / "issues" / "2027-01.yaml"
    path.write_text(path.read_text().replace("Nieuws van partners", "Nieuws"), encoding="utf-8")
    config = load_config(demo_root)
    import datetime as dt

    started = dt.datetime(2026, 11, 12, 8, 0, tzinfo=dt.UTC)
    with Store(config.settings.state) as store:
        seed(store, [make_item("a1", started)], [Sent("2026-11", started, completed=started)])
    with running_studio(demo_root) as studio:
        assert studio.printed[:6] == [
            "ISSUE         STATE                    SEND AT",
            "2026-10       draft                    -",
            "2026-11       sent                     2026-11-12 09:00",
            "2026-12       approved                 2026-12-10 09:00",
            "2027-01       changed since approval   -",
            f"Studio: {studio.base}/",
        ]
        page = httpx.get(studio.url).text
    assert [s for s in re.findall(r'class="state state-([a-z]+)"', page)] == [
        "draft",
        "sent",
        "approved",
        "changed",
    ]


def test_pages_for_a_broken_a_missing_and_a_huge_file_say_what_is_wrong(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12")
    with running_studio(demo_root, "2026-12") as studio:
        good = httpx.get(studio.url)
        assert good.status_code == 200 and "Nieuws van partners" in good.text
        path.write_text(
            path.read_text().replace("subject: Nieuws van partners", "subject: [kapot"), encoding="utf-8"
        )
        broken = httpx.get(studio.url)
        assert broken.status_code == 200
        assert "issues/2026-12.yaml cannot be read" in broken.text
        assert re.search(r"issues/2026-12\.yaml:\d+: not valid YAML", broken.text), broken.text
        assert "the last version that could be read" in broken.text  # the preview stays
        path.write_text("subject: " + "x" * 1_100_000 + "\n", encoding="utf-8")
        huge = httpx.get(studio.url)
        assert huge.status_code == 200
        assert "issues/2026-12.yaml: file is 1,100,010 bytes, over the limit of 1,000,000" in huge.text
        missing = httpx.get(f"{studio.base}/issue/2027-01")
        assert missing.status_code == 404
        assert "no issue &#39;2027-01&#39;: issues/2027-01.yaml does not exist" in missing.text
        assert "Draft issue 2027-01" in missing.text
        odd = httpx.get(f"{studio.base}/issue/%2e%2e%2fsources")
        assert odd.status_code == 404
        for answer in (broken, huge, missing, odd):
            assert "Traceback" not in answer.text


def test_changes_need_the_csrf_token_and_reading_changes_no_file(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12")
    with running_studio(demo_root, "2026-12") as studio:
        before = files(demo_root)
        page = httpx.get(studio.url).text
        for part in ("source", "preview/email", "preview/web", "preview/text"):
            assert httpx.get(f"{studio.url}/{part}").status_code == 200
        httpx.get(studio.base + "/")
        assert files(demo_root) == before  # reading changed nothing
        change = {"op": "field", "field": "subject", "value": "Anders", "version": version(page)}
        refused = httpx.post(f"{studio.url}/edit", data=change)
        assert refused.status_code == 403 and "no CSRF token" in refused.text
        forged = httpx.post(f"{studio.url}/edit", data={**change, "csrf_token": "0" * 64})
        assert forged.status_code == 403
        elsewhere = httpx.post(
            f"{studio.url}/edit",
            data={**change, "csrf_token": token(page)},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403
        assert files(demo_root) == before
        done = httpx.post(
            f"{studio.url}/edit",
            data={**change, "csrf_token": token(page)},
            headers={"Accept": "application/json"},
        )
        assert done.json() == {"ok": True, "message": "Saved: subject.", "fix": None, "problems": []}
        assert "subject: Anders\n" in path.read_text()
        stale = httpx.post(
            f"{studio.url}/edit",
            data={**change, "value": "Weer anders", "csrf_token": token(page)},
            headers={"Accept": "application/json"},
        )
        assert stale.status_code == 409
        assert stale.json()["message"].startswith(
            "issues/2026-12.yaml changed on disk since the page was loaded"
        )
        assert "subject: Anders\n" in path.read_text()
        big = httpx.post(
            f"{studio.url}/edit", data={**change, "value": "x" * 300_000, "csrf_token": token(page)}
        )
        assert big.status_code == 413
        preview = httpx.get(f"{studio.url}/preview/email")
        assert "sandbox" in preview.headers["content-security-policy"]
        assert "script-src" not in preview.headers["content-security-policy"]


def test_approve_is_refused_with_check_s_errors_as_on_the_command_line(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12")
    path.write_text(path.read_text().replace("subject: Nieuws van partners\n", ""), encoding="utf-8")
    with running_studio(demo_root, "2026-12") as studio:
        page = httpx.get(studio.url).text
        fp = re.search(r'name="fingerprint" value="([^"]+)"', page)
        assert fp
        data = {"by": "Anna", "version": version(page), "fingerprint": fp.group(1), "csrf_token": token(page)}
        answer = httpx.post(f"{studio.url}/approve", data=data, headers={"Accept": "application/json"})
    assert answer.status_code == 409
    note = answer.json()
    assert (note["ok"], note["message"], note["fix"]) == (
        False,
        "not approved: 1 error in issues/2026-12.yaml.",
        "correct them (newsletter check 2026-12), then approve again.",
    )
    assert note["problems"][0] == (
        "issues/2026-12.yaml:1: no subject; write 'subject: ...', the line subscribers see in their inbox"
    )
    # The same words as the command line's.
    cli = newsletter(demo_root, "approve", "2026-12", "--by", "Anna")
    assert cli.stderr.splitlines() == [*note["problems"], "Error: " + note["message"], "Fix: " + note["fix"]]


def test_with_a_password_every_page_asks_for_it(demo_root: Path) -> None:
    write_issue(demo_root, "2026-12")
    env = {"NEWSLETTER_STUDIO_PASSWORD": "lang genoeg wachtwoord"}
    with running_studio(demo_root, "2026-12", env=env) as studio, httpx.Client(follow_redirects=False) as c:
        first = c.get(studio.url)
        assert first.status_code == 303 and first.headers["location"].startswith("/login?next=")
        for part in ("/preview/email", "/source", "/events"):
            assert c.get(studio.url + part, headers={"Accept": "application/json"}).status_code == 401
        login = c.get(studio.base + "/login").text
        t = login.split('name="csrf_token" value="')[1].split('"')[0]
        signed = c.post(
            studio.base + "/login?next=/issue/2026-12",
            data={"password": "lang genoeg wachtwoord", "csrf_token": t},
        )
        assert signed.status_code == 303
        assert c.get(studio.url).status_code == 200


@pytest.mark.parametrize("password", ["kort"])
def test_a_short_password_is_refused_beyond_loopback(demo_root: Path, password: str) -> None:
    refused = newsletter(
        demo_root, "studio", "--host", "0.0.0.0", env={"NEWSLETTER_STUDIO_PASSWORD": password}
    )
    assert refused.returncode == 2
    assert "NEWSLETTER_STUDIO_PASSWORD is 4 characters" in refused.stderr


# -- the header form, the move menu, the partner cap, the icon and the language -------------------------
COMMENTED = """\
id: "2026-12"
# What readers see in their inbox
subject: "Nieuws van partners"   # at most 60 characters show
preheader: Wat partners deden
intro: |
  Beste lezer,

  Deze maand **veel** nieuws.
send_at: 2026-12-10 09:00+01:00
sections:
  - section: partners
    items:
      - title: Doe mee aan de online sessie
        summary: Elke twee weken, voor partners.
        url: https://www.example.org/sessies
"""


def header_form(page: str) -> dict[str, str]:
    """The header form's fields as a browser sends them (a textarea's lines end in CRLF)."""
    form = page[page.index('name="op" value="fields"') :]
    form = form[: form.index("</form>")]
    values = dict(re.findall(r'<input id="f-\w+" name="(\w+)"[^>]*? value="([^"]*)"', form))
    intro = re.search(r'<textarea id="f-intro" name="intro"[^>]*>(.*?)</textarea>', form, re.S)
    assert intro
    values["intro"] = html.unescape(intro.group(1)).replace("\n", "\r\n")
    values = {k: html.unescape(v) for k, v in values.items()}
    return {"op": "fields", "version": version(page), "csrf_token": token(page), **values}


def test_one_save_writes_only_the_fields_that_changed(demo_root: Path) -> None:
    path = demo_root / "issues" / "2026-12.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(COMMENTED, encoding="utf-8")
    with running_studio(demo_root, "2026-12") as studio, httpx.Client() as c:
        page = c.get(studio.url).text
        assert page.count('name="op" value="fields"') == 1 and page.count(">Save</button>") == 1
        form = header_form(page)
        assert (form["subject"], form["preheader"], form["send_at"]) == (
            "Nieuws van partners",
            "Wat partners deden",
            "2026-12-10T09:00",
        )
        # Only the subject edited: the preheader, the intro (sent back with CRLF) and the send time
        # with its offset stay byte for byte; the subject keeps its comment.
        answer = c.post(f"{studio.url}/edit", data={**form, "subject": "Fietsen en laptops"})
        assert answer.status_code == 303 and answer.headers["location"].endswith("#fields")
        assert path.read_text(encoding="utf-8") == COMMENTED.replace(
            'subject: "Nieuws van partners"   #', "subject: Fietsen en laptops   #"
        )
        shown = c.get(studio.base + answer.headers["location"]).text
        assert "Saved: subject." in shown
        # Two fields at once, the others as the page shows them.
        form = header_form(shown)
        answer = c.post(
            f"{studio.url}/edit",
            data={**form, "send_at": "2026-12-11T10:00", "intro": "Beste lezer,\r\n\r\nWeinig nieuws."},
            headers={"Accept": "application/json"},
        )
        assert answer.json()["message"] == "Saved: intro, send time."
        assert path.read_text(encoding="utf-8") == COMMENTED.replace(
            'subject: "Nieuws van partners"   #', "subject: Fietsen en laptops   #"
        ).replace("  Deze maand **veel** nieuws.\n", "  Weinig nieuws.\n").replace(
            "send_at: 2026-12-10 09:00+01:00\n", "send_at: 2026-12-11 10:00\n"
        )
        before = path.read_bytes()
        same = c.post(f"{studio.url}/edit", data=header_form(c.get(studio.url).text))
        assert (
            "Nothing to save: the fields are as in the file."
            in c.get(studio.base + same.headers["location"]).text
        )
        assert path.read_bytes() == before
        # A page from before the last save: refused as before, nothing written.
        stale = c.post(
            f"{studio.url}/edit", data={**form, "preheader": "Anders"}, headers={"Accept": "application/json"}
        )
        assert stale.status_code == 409
        assert stale.json()["message"].startswith(
            "issues/2026-12.yaml changed on disk since the page was loaded"
        )
        assert path.read_bytes() == before


def drafted_demo(root: Path) -> Path:
    assert newsletter(root, "collect").returncode == 0
    result = newsletter(root, "draft", "2026-12", "--since", "2026-11-01")
    assert result.returncode == 0, result.stderr
    return root / "issues" / "2026-12.yaml"


def test_the_move_menu_starts_at_the_entry_s_own_place(demo_root: Path) -> None:
    path = drafted_demo(demo_root)
    with running_studio(demo_root, "2026-12") as studio, httpx.Client() as c:
        page = c.get(studio.url).text
        selects = re.findall(
            r'<select id="move-([\w-]+)-(items|runners_up)-(\d+)" name="to">(.*?)</select>', page, re.S
        )
        assert len(selects) > 10
        for section, which, _index, options in selects:
            chosen = re.findall(r'<option value="([^"]+)" selected>', options)
            assert chosen == [f"{section}:{which}"], (section, which, options)
        assert re.findall(
            r'<select id="move-partners-items-1" name="to">.*?<option value="([^"]+)"', page, re.S
        ) == ["uitgelicht:items"]  # the first option is still the first section, but it is not the one chosen
        before = path.read_bytes()
        stay = c.post(
            f"{studio.url}/edit",
            data={
                "op": "move",
                "section": "partners",
                "list": "items",
                "index": "1",
                "expect": "f2f16c55bb0a",
                "to": "partners:items",
                "version": version(page),
                "csrf_token": token(page),
            },
            headers={"Accept": "application/json"},
        )
        assert stay.json()["message"] == "Nothing moved: the entry is there already."
        assert path.read_bytes() == before


def test_check_warns_at_a_third_item_of_one_partner(demo_root: Path) -> None:
    path = drafted_demo(demo_root)
    text = path.read_text(encoding="utf-8")
    zwolle = [n for n, ln in enumerate(text.splitlines(), 1) if "# Gemeente Zwolle ·" in ln]
    assert len(zwolle) >= 3  # two picked, the runner-up about debts
    first = newsletter(demo_root, "check", "2026-12")
    assert "per partner" not in first.stdout + first.stderr
    with running_studio(demo_root, "2026-12") as studio, httpx.Client() as c:
        page = c.get(studio.url).text
        runners = re.search(
            r'<li class="entry" data-item="6ff0b9b33be2">.*?name="index" value="(\d+)"', page, re.S
        )
        assert runners
        promoted = c.post(
            f"{studio.url}/edit",
            data={
                "op": "promote",
                "section": "partners",
                "list": "runners_up",
                "index": runners.group(1),
                "expect": "6ff0b9b33be2",
                "version": version(page),
                "csrf_token": token(page),
            },
            headers={"Accept": "application/json"},
        )
        assert promoted.json()["ok"] is True
        lines = path.read_text(encoding="utf-8").splitlines()
        picked = [n for n, ln in enumerate(lines, 1) if ln.strip() in (
            "- item: 045bd5f95a47", "- item: 19e79284b357", "- item: 6ff0b9b33be2"
        )]  # fmt: skip
        assert len(picked) == 3
        expected = (
            f"issues/2026-12.yaml:{picked[2]}: warning: 'Minder stress over schulden: spreekuur in de wijk' is "
            f"item 3 from Gemeente Zwolle in this issue (the others: lines {picked[0]}, {picked[1]}); a draft "
            "takes at most 2 per partner: move one to 'runners_up'"
        )
        check = newsletter(demo_root, "check", "2026-12")
        assert expected in check.stderr.splitlines(), check.stderr
        deadline = time.monotonic() + 10
        while expected not in html.unescape(page := c.get(studio.url).text):
            assert time.monotonic() < deadline, "the studio's check does not show the warning"
            time.sleep(0.1)
        assert f'href="/issue/2026-12/source#L{picked[2]}"' in page


def test_favicon_and_the_page_s_language(demo_root: Path) -> None:
    write_issue(demo_root, "2026-12")
    with running_studio(demo_root, "2026-12") as studio:
        icon = httpx.get(f"{studio.base}/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.content.startswith(b"<svg") and b"<script" not in icon.content
        linked = httpx.get(f"{studio.base}/static/favicon.svg")
        assert linked.status_code == 200 and linked.content == icon.content
        for url in (studio.url, studio.base + "/", f"{studio.url}/source", f"{studio.base}/issue/2027-01"):
            page = httpx.get(url).text
            # The tests read English (conftest); a Dutch studio is lang="nl" (test_studio_dutch.py).
            assert page.startswith('<!doctype html>\n<html lang="en">'), url
            assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page


def test_a_refused_edit_reads_dutch_and_writes_nothing(demo_root: Path) -> None:
    """An edit the curate stage refuses, in a studio that speaks Dutch: the whole sentence and its fix
    as a Dutch editor reads them (written here by hand), and the file as it was."""
    path = write_issue(demo_root, "2026-12")  # one announcement: a title, no item
    with running_studio(demo_root, "2026-12", env={"NEWSLETTER_LANG": "nl"}) as studio, httpx.Client() as c:
        page = c.get(studio.url).text
        before = path.read_bytes()
        form = {
            "op": "text",
            "section": "partners",
            "list": "items",
            "index": "0",
            "title": "",
            "summary": "Elke twee weken, voor partners.",
            "version": version(page),
            "csrf_token": token(page),
        }
        refused = c.post(f"{studio.url}/edit", data=form, headers={"Accept": "application/json"})
        assert refused.status_code == 409
        assert refused.json() == {
            "ok": False,
            "message": "de aankondiging 'Doe mee aan de online sessie' heeft geen bericht om op terug "
            "te vallen. Ze heeft haar 'title' nodig",
            "fix": "schrijf een nieuwe 'title' in plaats van het veld leeg te maken",
            "problems": [],
        }
        assert path.read_bytes() == before
