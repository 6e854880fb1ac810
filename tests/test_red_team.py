"""The two web services attacked as an outsider (or a malicious page in the editor's browser) would,
each a real process on loopback: what broke in the red-team pass of issue 21, and what held.

- The studio's forms with hostile text: control characters (a DEL gave a 500, a NUL was written and
  broke the email's template), YAML injection (the file stays valid and the program's own fields
  untouched), a send time the file cannot keep (year 1, or beyond what the clock can convert: a
  500 or a file no one could read back), and an approver's name of any length or with controls.
- `newsletter serve`'s sign-up with look-alike (homoglyph) and overlong addresses: accepted, and the
  mail failed after the answer with an error in the log; now the form says what is wrong, and an
  international domain is mailed in its ASCII form.
- A PostgreSQL password in NEWSLETTER_DATABASE_URL: the driver's error quoted it (a bad %-escape,
  an '@' not written as %40), past the URL's own masking.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import newsletter, write_issue
from servers import running_serve, running_studio

FORM = {"Accept": "application/json"}


def token(page: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert m, page[:300]
    return m.group(1)


def version(page: str) -> str:
    m = re.search(r'name="version" value="([^"]+)"', page)
    assert m
    return m.group(1)


def no_failure_in(output: str) -> None:
    assert "Traceback" not in output and "error:" not in output, output


# -- the studio ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("subject", "Nieuws\x7f", "U+007F"),  # was: 500 (YAML's reader refused the DEL)
        ("subject", "Nieuws\x00van partners", "U+0000"),  # was: written; the email no longer rendered
        ("preheader", "Wat \x1b[31mpartners deden", "U+001B"),
        ("intro", "Beste lezer,\n\nTot\x85ziens", "U+0085"),
        ("intro", "Beste\ufefflezer", "U+FEFF"),
    ],
)
def test_control_characters_in_a_field_are_refused_and_nothing_is_written(
    demo_root: Path, field: str, value: str, code: str
) -> None:
    path = write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    before = path.read_bytes()
    with running_studio(demo_root, "2026-12") as studio, httpx.Client(timeout=30) as c:
        page = c.get(studio.url).text
        form = {"op": "fields", "version": version(page), "csrf_token": token(page), field: value}
        answer = c.post(f"{studio.url}/edit", data=form, headers=FORM)
        assert answer.status_code == 409
        assert answer.json()["message"] == (
            f"'{field}' holds an invisible control character ({code}); nothing was written"
        )
        assert answer.json()["fix"] == "type the text again, or paste it as plain text"
        assert path.read_bytes() == before
        # The same text without the control character is saved: the refusal is about it alone.
        clean = value.replace("\x1b", "").translate({0x7F: None, 0: " ", 0x85: " ", 0xFEFF: " "})
        saved = c.post(f"{studio.url}/edit", data={**form, field: clean}, headers=FORM)
        assert saved.status_code == 200, saved.text
    studio.process.wait(10)
    no_failure_in(studio.errors())


def test_an_entry_s_own_title_with_a_nul_is_refused(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    before = path.read_bytes()
    with running_studio(demo_root, "2026-12") as studio, httpx.Client(timeout=30) as c:
        page = c.get(studio.url).text
        form = {
            "op": "text", "section": "partners", "list": "items", "index": "0",
            "version": version(page), "csrf_token": token(page),
            "title": "Doe mee\x00", "summary": "Elke twee weken, voor partners.",
        }  # fmt: skip
        answer = c.post(f"{studio.url}/edit", data=form, headers=FORM)
        assert answer.status_code == 409
        assert answer.json()["message"] == (
            "'title' holds an invisible control character (U+0000); nothing was written"
        )
        assert path.read_bytes() == before
    studio.process.wait(10)
    no_failure_in(studio.errors())


# Text an attacker would try to break out of its field with, and what the file must read back.
HOSTILE = [
    ("subject", 'x"\nstatus: approved', 'x" status: approved'),  # a subject is one line
    ("subject", "x\r\napproval: {by: Eve}", "x approval: {by: Eve}"),
    ("subject", "&a [*a, *a, *a]", "&a [*a, *a, *a]"),
    ("subject", "!!python/object/apply:os.system [id]", "!!python/object/apply:os.system [id]"),
    ("subject", "<script>alert(1)</script> #no comment", "<script>alert(1)</script> #no comment"),
    ("preheader", "---", "---"),
    ("intro", "Hoi\n\nstatus: approved\n---\nid: evil", "Hoi\n\nstatus: approved\n---\nid: evil\n"),
    ("intro", "[klik](javascript:alert(1)) <!-- x -->", "[klik](javascript:alert(1)) <!-- x -->"),
    ("intro", "a: &x [1]\nb: *x", "a: &x [1]\nb: *x\n"),
]


def test_hostile_text_stays_in_its_field_and_the_program_s_fields_are_untouched(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    with running_studio(demo_root, "2026-12") as studio, httpx.Client(timeout=30) as c:
        for field, value, expected in HOSTILE:
            page = c.get(studio.url).text
            form = {"op": "fields", "version": version(page), "csrf_token": token(page), field: value}
            answer = c.post(f"{studio.url}/edit", data=form, headers=FORM)
            assert answer.status_code == 200, (value, answer.text)
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            assert data[field] == expected
            assert data["id"] == "2026-12" and "status" not in data and "approval" not in data
            assert set(data) == {"id", "subject", "preheader", "intro", "send_at", "sections"}
        # The intro's Markdown preview: no live link, no markup.
        shown = c.get(studio.url).text
        assert "<script>alert" not in shown and 'href="javascript:' not in shown.lower()
    assert newsletter(demo_root, "check", "2026-12").returncode == 0


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00",  # was: written as '1-01-01 00:00', and the file could not be read back
        "9999-12-31T23:59-01:00",  # was: 500 (OverflowError)
        "0001-01-01T00:30+01:00",  # was: 500 (OverflowError)
        "1899-12-31T09:00",
    ],
)
def test_a_send_time_the_file_cannot_keep_is_refused(demo_root: Path, value: str) -> None:
    path = write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    before = path.read_bytes()
    with running_studio(demo_root, "2026-12") as studio, httpx.Client(timeout=30) as c:
        page = c.get(studio.url).text
        form = {"op": "fields", "version": version(page), "csrf_token": token(page), "send_at": value}
        answer = c.post(f"{studio.url}/edit", data=form, headers=FORM)
        assert answer.status_code == 409, answer.text
        assert answer.json() == {
            "ok": False,
            "message": f"send_at '{value}' is not between the years 2000 and 2099",
            "fix": "give a date and time like 2026-12-10 09:00",
            "problems": [],
        }
        assert path.read_bytes() == before
        later = c.post(f"{studio.url}/edit", data={**form, "send_at": "2026-12-11T10:00"}, headers=FORM)
        assert later.json()["message"] == "Saved: send time."
    studio.process.wait(10)
    no_failure_in(studio.errors())


def test_an_approver_s_name_is_bounded_and_without_control_characters(demo_root: Path) -> None:
    path = write_issue(demo_root, "2026-12", send_at="2026-12-10 09:00")
    before = path.read_bytes()
    with running_studio(demo_root, "2026-12") as studio, httpx.Client(timeout=30) as c:
        page = c.get(studio.url).text
        fp = re.search(r'name="fingerprint" value="([^"]+)"', page)
        assert fp
        form = {"version": version(page), "csrf_token": token(page), "fingerprint": fp.group(1)}
        for by in ("x" * 101, "Anna\x00", "Anna\x7f"):
            answer = c.post(f"{studio.url}/approve", data={**form, "by": by}, headers=FORM)
            assert answer.status_code == 409
            assert answer.json()["message"] == (
                "an approver's name is at most 100 characters, without control characters"
            )
            assert path.read_bytes() == before
        # A name with a line break is one line in the file; the program's fields stay its own.
        answer = c.post(f"{studio.url}/approve", data={**form, "by": "Anna\nstatus: sent"}, headers=FORM)
        assert answer.status_code == 200
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["status"] == "approved" and data["approval"]["by"] == "Anna status: sent"


# -- newsletter serve -----------------------------------------------------------------------------------
def test_look_alike_and_overlong_addresses_get_the_form_again_and_a_domain_is_mailed_in_ascii(
    demo_root: Path,
) -> None:
    refused = [
        "\uff41nna@example.org",  # a full-width a: was accepted, then the mail failed (UnicodeEncodeError)
        "\u0430nna@example.org",  # a Cyrillic a
        "x" * 65 + "@example.org",  # a local part over 64
        "anna@" + "y" * 64 + ".nl",  # a domain label over 63
        "anna..de.vries@example.org",
        ".anna@example.org",
        "anna@-example.org",
    ]
    with running_serve(demo_root) as service, httpx.Client(base_url=service.base, timeout=30) as http:
        for i, address in enumerate(refused):
            answer = http.post(
                "/aanmelden", data={"email": address}, headers={"x-forwarded-for": f"198.51.100.{i + 1}"}
            )
            assert answer.status_code == 400, address
            assert "Dit is geen geldig e-mailadres" in answer.text
        answer = http.post(
            "/aanmelden", data={"email": "Anna@Bücher.de"}, headers={"x-forwarded-for": "198.51.100.99"}
        )
        assert answer.status_code == 200 and "Kijk in je mailbox" in answer.text
        outbox = demo_root / "outbox" / "aanmelden"
        deadline = time.monotonic() + 15
        while not (outbox.is_dir() and list(outbox.glob("*.eml"))) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "anna@xn--bcher-kva.de"
    service.process.wait(10)
    no_failure_in(service.errors())


# -- secrets ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        # psycopg: 'invalid percent-encoded token: "Hunter2Se%cretPw"'
        ("postgresql://editor:Hunter2Se%cretPw@127.0.0.1:1/news", ["Hunter2Se", "cretPw"]),
        # an '@' not written as %40: the masking stopped at the first, the driver named the rest
        ("postgresql://editor:Hunter2Sec@retPw9@[::1/news", ["Hunter2Sec", "retPw9"]),
        ("postgresql://editor:Hunter2SecretPw@127.0.0.1:1/news", ["Hunter2SecretPw"]),
    ],
)
def test_no_database_password_in_any_message(demo_root: Path, url: str, pieces: list[str]) -> None:
    env = {"NEWSLETTER_DATABASE_URL": url, "SENDGRID_API_KEY": "SG.redteam-secret-key-value"}
    for args in (("status",), ("db", "check"), ("serve", "--port", "0"), ("studio", "--port", "0")):
        done = newsletter(demo_root, *args, env=env, timeout=60)
        assert done.returncode != 0
        out = done.stdout + done.stderr
        assert "cannot use the state database postgresql://editor:***@" in out, out
        for piece in [*pieces, "redteam-secret"]:
            assert piece not in out, (args, out)
        assert "Traceback" not in out


# -- ids that end in a newline -------------------------------------------------------------------------
def test_an_id_with_a_trailing_newline_is_not_an_id(demo_root: Path) -> None:
    """A regular expression's '$' also matches before a final newline: '2027-02\\n' must not pass as an
    issue id (it made a file named '2027-02\\n.yaml'), nor a period, an id or an address."""
    drafted = newsletter(demo_root, "draft", "2027-02\n")
    assert drafted.returncode != 0
    assert not any("\n" in p.name for p in (demo_root / "issues").glob("*"))
    from pipeline.domain.issues import ISSUE_ID_RE
    from pipeline.domain.monitoring import PERIOD_RE
    from pipeline.domain.schema import EMAIL_RE, ID_RE

    for pattern, good in ((ISSUE_ID_RE, "2027-02"), (PERIOD_RE, "2026-H1"), (ID_RE, "gemeente-zwolle"),
                          (EMAIL_RE, "anna@example.org")):  # fmt: skip
        assert pattern.match(good), good
        assert not pattern.match(good + "\n"), good
