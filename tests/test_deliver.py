"""Deliver without SendGrid: the subscriber CSV, the outbox, the ledger, the lock, the request limits."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import multiprocessing
import re
import time
from pathlib import Path

import pytest
from conftest import Cli, approved, list_send, newsletter, write_issue

from pipeline.deliver import Outbox, OutboxTransport, plan, send_lock, send_test
from pipeline.domain.config import Config
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError
from pipeline.domain.models import DeliveryState, Rendered
from pipeline.domain.tokens import TOKEN_NAME, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE
from pipeline.infra.instance import load_config
from pipeline.infra.locking import Busy
from pipeline.infra.sendgrid import RequestInvalid, check_body, mail_body
from pipeline.infra.store import SentPlacement, Store
from pipeline.infra.subscribers import read_subscribers

HTML = (
    f"<html><body><p>Beste {TOKEN_NAME},</p><p>Nieuws.</p>"
    f'<a href="{TOKEN_UNSUBSCRIBE}">Afmelden</a> <a href="{TOKEN_PREFERENCES}">Voorkeuren</a></body></html>'
)
TEXT = f"Beste {TOKEN_NAME},\n\nNieuws.\n\nAfmelden: {TOKEN_UNSUBSCRIBE}\n"


def rendered(issue: str = "2026-12") -> Rendered:
    return Rendered(issue, "Fietsen en laptops", "Wat partners deden", HTML, TEXT, "<html>web</html>")


def write_subscribers(root: Path, n: int, extra: str = "") -> None:
    lines = ["email;name"] + [f"Lid{i}@Example.org;Lid {i}" for i in range(n)]
    (root / "subscribers.csv").write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")


def outbox_transport(config: Config) -> OutboxTransport:
    return OutboxTransport(Outbox(config.root / "outbox"), "outbox/")


# -- the subscriber CSV ---------------------------------------------------------------------------
def test_csv_with_bom_commas_and_odd_header_case(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("\ufeff Email ,Naam\r\nA@Example.org,Anna\r\n\r\nb@example.org,\r\n".encode())
    reader = read_subscribers(path, tmp_path)
    rows = list(reader)
    assert [(s.email, s.name, s.line) for s in rows] == [
        ("a@example.org", "Anna", 2),
        ("b@example.org", None, 4),
    ]
    assert reader.problems == []


def test_bad_rows_reported_by_line_without_the_address(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("email;name\nok@example.org;A\ngeheim-adres;B\n;C\nx@y@example.org;D\n", encoding="utf-8")
    reader = read_subscribers(path, tmp_path)
    assert [s.email for s in reader] == ["ok@example.org"]
    assert [(p.line, p.message) for p in reader.problems] == [
        (3, "the email column is not a valid address; correct or remove this row"),
        (4, "the email column is empty; correct or remove this row"),
        (5, "the email column is not a valid address; correct or remove this row"),
    ]
    assert not any("geheim" in str(p) for p in reader.problems)
    assert reader.rows == 4


def test_missing_email_column_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("naam;organisatie\nA;B\n", encoding="utf-8")
    with pytest.raises(InputInvalid) as e:
        list(read_subscribers(path, tmp_path))
    assert str(e.value) == "s.csv:1: the first line needs an 'email' column (separated by ';' or ',')"
    with pytest.raises(NotFound, match="does not exist"):
        list(read_subscribers(tmp_path / "absent.csv", tmp_path))


def test_a_list_not_in_utf8_names_its_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("email;naam\nok@example.org;Anna\nrene@example.org;René\n".encode("cp1252"))
    with pytest.raises(InputInvalid) as e:
        list(read_subscribers(path, tmp_path))
    assert (
        str(e.value)
        == "s.csv:3: not UTF-8 text; export the list as 'CSV UTF-8' (in Excel: Save As, CSV UTF-8)"
    )
    assert "rene" not in str(e.value)


def test_a_row_the_csv_reader_refuses_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "email;naam\nok@example.org;Anna\nb@example.org;" + "x" * 200_000 + "\n", encoding="utf-8"
    )
    with pytest.raises(InputInvalid) as e:
        list(read_subscribers(path, tmp_path))
    assert str(e.value) == (
        "s.csv:3: cannot be read as CSV (field larger than field limit (131072)); correct or remove this row"
    )


# -- the outbox and the list send without a key ----------------------------------------------------
def test_list_send_to_the_outbox_once_per_subscriber(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        report = list_send(
            config, store, rendered(), outbox_transport(config), placements=[("partners", "x")]
        )
        assert report.completed
        # The demo list: 7 rows, one duplicate (case differs), one bad address.
        assert report.list is not None
        assert (report.list.rows, report.list.duplicates, report.list.invalid) == (7, 1, 1)
        assert report.counts["accepted"] == 5 and report.counts["pending"] == 0
        files = sorted((demo_root / "outbox" / "2026-12").glob("*.eml"))
        assert len(files) == 5
        assert store.sent_issue("2026-12").completed_at is not None
        assert store.sent_items("2026-12") == [SentPlacement("2026-12", "x", "partners", 0)]
        again = list_send(config, store, rendered(), outbox_transport(config))
        assert again.sent_now == 0 and again.requests == 0
    assert len(list((demo_root / "outbox" / "2026-12").glob("*.eml"))) == 5

    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Anna de Vries <anna.devries@example.org>"
    assert msg["Subject"] == "Fietsen en laptops"
    assert msg["List-Unsubscribe"] == "<mailto:redactie@example.org?subject=afmelden%202026-12>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Beste Anna de Vries," in text and "Beste Anna de Vries," in html
    for token in (TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES):
        assert token not in text and token not in html
    assert 'href="mailto:redactie@example.org?subject=afmelden%202026-12"' in html


def test_every_request_of_a_send_keeps_its_own_outbox_files(demo_root: Path) -> None:
    # Five subscribers in requests of two: three requests, and no request's files overwrite another's.
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        report = list_send(config, store, rendered(), outbox_transport(config), batch_size=2)
        assert (report.requests, report.counts["accepted"]) == (3, 5)
    files = list((demo_root / "outbox" / "2026-12").glob("*.eml"))
    to = {email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"] for p in files}
    assert len(files) == 5 and len(to) == 5, sorted(to)


def test_resumed_send_sends_the_content_kept_at_the_start(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        list_send(config, store, rendered(), outbox_transport(config), batch_size=2)
        with store.db.transaction() as db:  # as if the first run had stopped after two subscribers
            db.execute("UPDATE deliveries SET state='pending', batch=NULL WHERE issue='2026-12' AND seq > 2")
            db.execute("UPDATE sent_issues SET completed_at=NULL")
        changed = Rendered("2026-12", "Ander onderwerp", "", "<p>anders</p>", "anders", "web")
        report = list_send(config, store, changed, outbox_transport(config))
        assert report.sent_now == 3 and report.completed
    subjects = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
        for p in (demo_root / "outbox" / "2026-12").glob("*.eml")
    }
    assert subjects == {"Fietsen en laptops"}


def test_dry_run_plans_and_changes_nothing(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        p = plan(config, store, approved(config, rendered())[0], outbox_transport(config))
        assert p.refused is None and p.to_send == 5 and p.requests == 1 and not p.list.suppressions_read
        assert store.delivery_counts("2026-12")["pending"] == 0
        assert store.sent_issue("2026-12") is None
    assert not (demo_root / "outbox").exists()


def test_new_subscribers_do_not_get_an_issue_already_completed(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        list_send(config, store, rendered(), outbox_transport(config))
        with (demo_root / "subscribers.csv").open("a", encoding="utf-8") as f:
            f.write("nieuw@example.org;Nieuw;;\n")
        report = list_send(config, store, rendered(), outbox_transport(config))
        assert report.sent_now == 0 and report.counts["accepted"] == 5


def test_removed_subscribers_are_skipped_on_resume(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        now = dt.datetime.now(dt.UTC)
        store.load_audience([("a@example.org", None), ("b@example.org", None)], [])
        with store.transaction():  # a send that started with two subscribers, then stopped
            store.record_sent_issue(rendered(), "fp", [], now)
            store.sync_ledger("2026-12", now)
        write_subscribers(demo_root, 0, "a@example.org;A\n")
        report = list_send(config, store, rendered(), outbox_transport(config))
        assert report.counts["accepted"] == 1
        assert store.skip_reasons("2026-12") == {"no longer in the subscriber list": 1}


def test_test_send_marks_the_subject_and_records_nothing(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        result = send_test(
            config, rendered(), ["Redactie@example.nl", "redactie@example.nl"], outbox_transport(config)
        )
        assert result.accepted and result.recipients == 1
        assert store.delivery_counts("2026-12") == dict.fromkeys(DeliveryState, 0)
        assert store.sent_issue("2026-12") is None
    (path,) = (demo_root / "outbox" / "2026-12" / "test").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "[TEST] Fietsen en laptops"
    # A test reader is on no list: the mailto only, and no one-click header (as at SendGrid).
    assert msg["List-Unsubscribe"] == "<mailto:redactie@example.org?subject=afmelden%202026-12>"
    assert msg["List-Unsubscribe-Post"] is None
    with pytest.raises(PipelineError, match="--to: 'redactie' is not an email address"):
        send_test(config, rendered(), ["redactie"], outbox_transport(config))


def test_a_test_send_cannot_be_a_dry_run(cli: Cli) -> None:
    result = cli("send", "2026-12", "--to", "redactie@example.nl", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: --dry-run plans the list send and cannot be combined with --to; drop one of them"
    )
    assert not (cli.root / "outbox").exists()


# -- the lock ---------------------------------------------------------------------------------------
def _hold(config_root: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    config = load_config(Path(config_root))
    with send_lock(config, "2026-12"):
        ready.set()
        time.sleep(60)


def test_one_send_at_a_time_and_a_killed_holder_leaves_no_lock(demo_root: Path, engine: str) -> None:
    config = load_config(demo_root)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(demo_root), ready))
    holder.start()
    try:
        assert ready.wait(10)
        busy = (
            "a send of issue 2026-12 is already running, on this host or another that shares the database"
            if engine == "postgresql"
            else f"a send of issue 2026-12 is already running \\(process {holder.pid}\\)"
        )
        with pytest.raises(Busy, match=busy), send_lock(config, "2026-12"):
            pass
        with send_lock(config, "2027-01"):  # another issue is another lock
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.join()
    with send_lock(config, "2026-12"):
        pass


# -- what the mock does not check --------------------------------------------------------------------
def _body(n: int, **kw: object) -> dict[str, object]:
    return mail_body(
        from_email="n@example.org", from_name="N", reply_to=None, subject="s", text="t", html="<p>h</p>",
        recipients=[(f"u{i}@example.org", None) for i in range(n)], **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_limits_the_mock_does_not_check() -> None:
    at = dt.datetime(2031, 3, 2, 9, 0, tzinfo=dt.UTC)  # years ahead: the check uses the clock given
    check_body(_body(1000), at)
    with pytest.raises(RequestInvalid, match="1001 recipients; SendGrid takes at most 1000"):
        check_body(_body(1001), at)
    twice = _body(2)
    twice["personalizations"][1]["to"][0]["email"] = "U0@example.org"  # type: ignore[index]
    with pytest.raises(RequestInvalid, match="names one address twice"):
        check_body(twice, at)
    with pytest.raises(RequestInvalid, match="header 'Reply-To' cannot be set through 'headers'"):
        check_body(_body(1, headers={"Reply-To": "x@example.org"}), at)
    in_71_hours, in_73_hours = (
        dt.datetime(2031, 3, 5, 8, tzinfo=dt.UTC),
        dt.datetime(2031, 3, 5, 10, tzinfo=dt.UTC),
    )
    check_body(_body(1, send_at=int(in_71_hours.timestamp())), at)
    with pytest.raises(RequestInvalid, match="more than 72 hours ahead"):
        check_body(_body(1, send_at=int(in_73_hours.timestamp())), at)
    big = _body(1)
    big["content"] = [{"type": "text/plain", "value": "x" * 30_000_000}]
    with pytest.raises(RequestInvalid, match="SendGrid takes less than 30 MB"):
        check_body(big, at)


def test_one_personalization_per_recipient() -> None:
    body = _body(3, substitutions=lambda name: {TOKEN_NAME: name or "lezer"})
    assert [len(p["to"]) for p in body["personalizations"]] == [1, 1, 1]  # type: ignore[attr-defined]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]  # type: ignore[attr-defined]


def test_72_hours_ahead_is_refused_before_anything_happens(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
        with pytest.raises(PipelineError, match="more than 72 hours ahead"):
            list_send(config, store, rendered(), outbox_transport(config), send_at=later)
        assert store.sent_issue("2026-12") is None


def test_the_editors_report_goes_beside_the_list_not_among_it(demo_root: Path) -> None:
    from pipeline.deliver import notify_editors

    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        report = list_send(config, store, rendered(), outbox_transport(config))
    notify_editors(config, report, env={})
    assert len(list((demo_root / "outbox" / "2026-12").glob("*.eml"))) == 5
    (note,) = (demo_root / "outbox" / "2026-12" / "report").glob("*.eml")
    msg = email.message_from_bytes(note.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "redactie@example.org" and msg["Subject"] == "Verzendrapport 2026-12: 5 verstuurd"
    # Not list mail: none of the list's headers, and no Reply-To (the SendGrid request has none).
    assert [h for h in ("List-Unsubscribe", "List-Id", "Reply-To") if h in msg] == []
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP line ends
    assert text.startswith("Verzendrapport van nummer 2026-12\n\nVerstuurd via outbox/.\n\n")
    assert "verstuurd:          5\novergeslagen:       0\nmislukt:            0\n" in text
    assert "haal je het terug met: newsletter cancel 2026-12" in " ".join(text.split())
    page = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert page.startswith('<!DOCTYPE html>\n<html lang="nl">') and "<pre>" not in page
    cells = re.findall(r"<th scope=\"row\"[^>]*>([^<]+)</th><td[^>]*>(\d+)</td>", page)
    assert cells == [
        ("verstuurd", "5"), ("overgeslagen", "0"), ("mislukt", "0"), ("onbekend", "0"),
        ("nog niet verstuurd", "0"),
    ]  # fmt: skip


def test_a_dry_run_says_first_whether_the_send_would_go_and_exits_as_the_send_would(demo_root: Path) -> None:
    """`send --dry-run` as a process: its first line after the title is the real send's verdict (with the
    reason and the fix), no time it goes out when refused, and the real command's exit status."""
    path = write_issue(demo_root, "2027-01", send_at="2027-01-12 09:00")
    path.write_text(path.read_text(encoding="utf-8").replace("subject: Nieuws van partners\n", ""), "utf-8")

    def dry() -> tuple[int, list[str]]:
        done = newsletter(demo_root, "send", "2027-01", "--dry-run")
        assert "Traceback" not in done.stderr
        return done.returncode, done.stdout.splitlines()

    # A draft with an error (no subject): refused, and the fix starts with the error.
    code, lines = dry()
    assert code == 1
    assert lines[:3] == [
        "Plan for issue 2027-01 (dry run: nothing is sent)",
        "  would send:      no, it would be refused: issue 2027-01 is not approved; only an approved,"
        " unchanged issue goes to the list",
        "  fix:             correct the 1 error in issues/2027-01.yaml (newsletter check 2027-01), then run"
        " 'newsletter approve 2027-01 --by NAME'",
    ]
    assert "  to send now:     none (the send would be refused; see 'would send' above)" in lines
    assert not [line for line in lines if "goes out at" in line or "recall until" in line]
    real = newsletter(demo_root, "send", "2027-01")
    assert real.returncode == code and "is not approved" in real.stderr
    assert not (demo_root / "outbox").exists()

    # Approved, then changed: refused again, with the approval's fix.
    write_issue(demo_root, "2027-01")  # without send_at: it would go out the hold time from now
    assert newsletter(demo_root, "approve", "2027-01", "--by", "Anna").returncode == 0
    code, lines = dry()
    assert (code, lines[1]) == (0, "  would send:      yes")
    assert any(line.startswith("  goes out at:     ") for line in lines)
    assert "  to send now:     5 in 1 request" in lines
    path.write_text(path.read_text(encoding="utf-8").replace("Elke twee weken", "Elke week"), "utf-8")
    code, lines = dry()
    assert code == 1
    assert lines[1:3] == [
        "  would send:      no, it would be refused: issue 2027-01 changed after it was approved; only an"
        " approved, unchanged issue goes to the list",
        "  fix:             check it, then run 'newsletter approve 2027-01 --by NAME' (test it with --to ADDR)",
    ]
    assert newsletter(demo_root, "send", "2027-01").returncode == code
    assert not (demo_root / "outbox").exists()

    # Approved again and sent: a dry run says nothing more would go, and exits 0 as the send does.
    assert newsletter(demo_root, "approve", "2027-01", "--by", "Anna").returncode == 0
    assert newsletter(demo_root, "send", "2027-01").returncode == 0
    code, lines = dry()
    assert (code, lines[1]) == (
        0,
        "  would send:      nothing: it went to the whole list before; new subscribers do not get it",
    )
    assert newsletter(demo_root, "send", "2027-01").returncode == code
