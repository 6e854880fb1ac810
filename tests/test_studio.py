"""`newsletter studio` as a process, over HTTP: the listing, the rules for --host and the password,
CSRF, clear pages for a broken, missing or huge file, and that reading changes no file."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest
from conftest import Sent, make_item, newsletter, seed, write_issue
from servers import running_studio

from pipeline.core.config import load_config
from pipeline.core.store import Store


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
        assert done.json() == {"ok": True, "message": "Saved the subject.", "fix": None, "problems": []}
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
