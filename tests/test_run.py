"""`newsletter run`, the cron entry point: schedules in Dutch time, locking, a killed run, the whole flow."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import editor_time, newsletter, write_issue
from sendgrid_mock import API_KEY, MockProxy, Recorded

from pipeline import curate
from pipeline.infra.instance import load_config
from pipeline.infra.locking import exclusive
from pipeline.infra.store import Store
from pipeline.run import clock_from, due_issues, run, run_lock

REPO = Path(__file__).resolve().parents[1]
UTC = dt.UTC


def approved_issue(root: Path, issue_id: str, send_at: str) -> None:
    write_issue(root, issue_id, send_at)
    config = load_config(root)
    with Store(config.settings.state) as store:
        curate.approve(config, store, issue_id, "Redactie")


class Log:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str]] = []

    def __call__(self, level: str, event: str, message: str, fields: Mapping[str, Any]) -> None:
        self.records.append((level, event, message))

    def messages(self, event: str) -> list[str]:
        return [m for _, e, m in self.records if e == event]


def sent(root: Path, issue_id: str) -> int:
    return len(list((root / "outbox" / issue_id).glob("*.eml")))


@pytest.mark.parametrize(
    ("issue_id", "send_at", "offset"),
    [
        ("voorjaar", "2026-03-29 09:00", 2),  # the clocks went forward at 02:00 that night: CEST
        ("najaar", "2026-10-25 09:00", 1),  # and back at 03:00: CET again
        ("winter", "2026-12-10 09:00", 1),
    ],
)
def test_an_issue_goes_out_when_its_dutch_send_time_has_come(demo_root, issue_id, send_at, offset):
    approved_issue(demo_root, issue_id, send_at)
    config = load_config(demo_root)
    local = dt.datetime.fromisoformat(send_at).replace(tzinfo=config.settings.timezone)
    assert local.utcoffset() == dt.timedelta(hours=offset)
    due_utc = local.astimezone(UTC)

    # Cron hands the issue to SendGrid an hour ahead (schedule_ahead_minutes), for that very minute.
    log = Log()
    handover = due_utc - dt.timedelta(hours=1)
    before = run(config, now=handover - dt.timedelta(minutes=1), env={}, log=log)
    assert before.issues == ()
    tz_name = "CEST" if offset == 2 else "CET"
    assert log.messages("issue-waiting") == [
        f"issue {issue_id}: approved; goes out {send_at} {tz_name}, handed to SendGrid from"
        f" {handover.astimezone(config.settings.timezone):%H:%M}"
    ]
    assert sent(demo_root, issue_id) == 0

    at = run(config, now=handover, env={}, log=Log())
    assert [(o.issue_id, o.action, o.completed) for o in at.issues] == [(issue_id, "sent", True)]
    assert at.issues[0].counts["accepted"] == 5 and at.issues[0].send_at == local
    assert f"(complete, goes out {send_at} {tz_name})" in at.line()
    assert sent(demo_root, issue_id) == 5
    assert (demo_root / "build" / issue_id / "email.html").is_file()  # rendered for the editors too
    assert len(list((demo_root / "outbox" / issue_id / "report").glob("*.eml"))) == 1  # the editors' report

    again = run(config, now=due_utc + dt.timedelta(hours=1), env={}, log=Log())
    assert again.issues == ()
    assert sent(demo_root, issue_id) == 5
    assert "status: sent" in (demo_root / "issues" / f"{issue_id}.yaml").read_text()


def test_a_draft_or_a_changed_issue_is_never_sent(demo_root):
    approved_issue(demo_root, "gewijzigd", "2026-12-10 09:00")
    path = demo_root / "issues" / "gewijzigd.yaml"
    path.write_text(path.read_text().replace("Nieuws van partners", "Nieuws van onze partners"))
    write_issue(demo_root, "concept", "2026-12-10 09:00")
    config = load_config(demo_root)
    log = Log()
    result = run(
        config, now=dt.datetime(2026, 12, 10, 9, 0, tzinfo=config.settings.timezone), env={}, log=log
    )
    assert result.issues == ()
    assert log.messages("issue-skipped") == [
        "issue concept: send_at 2026-12-10 09:00 CET has come, but it is a draft: not sent; run 'newsletter "
        "check concept' and 'newsletter approve concept --by NAME'",
        "issue gewijzigd: send_at 2026-12-10 09:00 CET has come, but it changed after it was approved: not "
        "sent; run 'newsletter check gewijzigd' and 'newsletter approve gewijzigd --by NAME'",
    ]
    assert not (demo_root / "outbox").exists()


def test_cron_output_is_one_line_when_all_is_well_and_json_on_request(demo_root):
    quiet = newsletter(demo_root, "run", "--now", "2026-12-01 10:00")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert re.fullmatch(
        r"6 sources: 6 fetched, 0 unchanged, 0 failed; 22 new items, 0 updated \(\d+\.\d s\); nothing to send\n",
        quiet.stdout,
    )
    approved_issue(demo_root, "2026-12", "2026-12-10 09:00")
    logged = newsletter(demo_root, "run", "--log-json", "--now", "2026-12-01 10:00")
    assert logged.returncode == 0
    assert logged.stdout == ""
    events = [json.loads(line) for line in logged.stderr.splitlines()]
    assert [e["event"] for e in events] == ["issue-waiting", "summary"]
    assert events[0]["issue"] == "2026-12"
    assert (
        events[0]["message"]
        == "issue 2026-12: approved; goes out 2026-12-10 09:00 CET, handed to SendGrid from 08:00"
    )
    assert {"time", "level", "message"} <= set(events[1])


def test_failing_sources_exit_3_and_are_named_on_stderr(demo_root):
    (demo_root / "feeds" / "jgz-fryslan.atom").unlink()
    result = newsletter(demo_root, "run")
    assert result.returncode == 3
    assert result.stderr == (
        "error: jgz-fryslan (feeds/jgz-fryslan.atom): no such file; check the path in sources.yaml\n"
    )
    assert "5 fetched, 0 unchanged, 1 failed" in result.stdout


def test_a_failed_write_during_collect_loses_no_other_source_and_the_due_issue_still_goes(demo_root):
    """One source's items cannot be written (here: a trigger in the state database that fails, as a
    damaged page or a full disk would). The run used to end there, before sending anything."""
    approved_issue(demo_root, "2026-12", "2026-12-10 09:00")
    config = load_config(demo_root)
    with Store(config.settings.state) as store, store.db.transaction() as db:
        db.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON items WHEN NEW.source = 'jgz-fryslan'"
            " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    result = newsletter(demo_root, "run", "--now", "2026-12-10 08:05")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        "error: jgz-fryslan (feeds/jgz-fryslan.atom): its items could not be stored (IntegrityError: disk I/O"
        " error); the other sources' were, and it is read again next run\n"
    )
    assert "5 fetched, 0 unchanged, 1 failed" in result.stdout
    assert (
        "issue 2026-12: 5 accepted, 0 skipped, 0 failed, 0 unknown (complete, goes out 2026-12-10 09:00 CET)"
        in result.stdout
    )
    with Store(config.settings.state) as store:
        sources = {i.source for i in store.items()}
        assert "jgz-fryslan" not in sources
        assert {"gemeente-zwolle", "leergeld-brabant", "kenniscentrum"} <= sources
        assert store.source_state("jgz-fryslan").last_status == "failed"
    assert len(list((demo_root / "outbox" / "2026-12").glob("*.eml"))) == 5


def test_a_second_run_while_one_is_busy_exits_at_once_with_status_0(demo_root, engine):
    config = load_config(demo_root)
    with run_lock(config):
        busy = newsletter(demo_root, "run")
    assert busy.returncode == 0
    holder = (
        ", on this host or another that shares the database"
        if engine == "postgresql"
        else f" (process {os.getpid()})"
    )
    assert busy.stdout == f"Another 'newsletter run' is already running{holder}; this run does nothing.\n"
    assert busy.stderr == ""


def test_a_killed_run_leaves_no_lock_behind(demo_root):
    config = load_config(demo_root)
    lock = config.settings.state.parent / "locks" / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom pipeline.infra.locking import exclusive\n"
            f"with exclusive(Path({str(lock)!r}), 'newsletter run'):\n    print('held', flush=True)\n    time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    assert "already running" in newsletter(demo_root, "run").stdout
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    after = newsletter(demo_root, "run")
    assert after.returncode == 0, after.stderr
    assert "nothing to send" in after.stdout
    with exclusive(lock, "newsletter run"):  # and it is free again afterwards
        pass


def write_subscribers(root: Path, n: int) -> None:
    rows = (
        ["email;name"] + [f"lid{i}@example.org;Lid {i}" for i in range(n)] + ["user1@example.com;Suppressed"]
    )
    (root / "subscribers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def quick_requests(root: Path) -> None:
    """Requests that time out after 3 s and settle 1 s later: a repair after a kill waits seconds, not 90."""
    path = root / "sources.yaml"
    text = path.read_text(encoding="utf-8")
    assert "    unsubscribe_group: 4242\n" in text
    path.write_text(
        text.replace(
            "    unsubscribe_group: 4242\n", "    unsubscribe_group: 4242\n    timeout: 3\n    settle: 1\n"
        )
    )


def in_minutes(root: Path, minutes: int) -> dt.datetime:
    """The instance's local time ``minutes`` from now, to the minute (added in UTC: on the night the
    clocks go forward, 01:43 + 45 minutes is 03:28, not a 02:28 that does not exist)."""
    tz = load_config(root).settings.timezone
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return later.astimezone(tz).replace(second=0, microsecond=0)


def draft_and_approve(root: Path, env: Mapping[str, str], send_at: dt.datetime) -> None:
    """What an editor does, each step a separate process."""
    drafted = newsletter(root, "draft", "2026-12", "--since", "2026-11-01", env=env)
    assert drafted.returncode == 0, drafted.stderr
    path = root / "issues" / "2026-12.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(
        r"^subject:.*$", "subject: Fietsen, laptops en een avond in Zwolle", text, count=1, flags=re.M
    )
    text = re.sub(r"^preheader:.*$", "preheader: Wat partners deden", text, count=1, flags=re.M)
    text = re.sub(r"^#? ?send_at:.*$", f"send_at: {editor_time(send_at)}", text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")
    checked = newsletter(root, "check", "2026-12", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    approved = newsletter(root, "approve", "2026-12", "--by", "Anna de Vries", env=env)
    assert approved.returncode == 0, approved.stderr


def test_the_whole_flow_as_separate_processes_against_the_sendgrid_mock(demo_root, sendgrid: MockProxy):
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    write_subscribers(demo_root, 30)
    collected = newsletter(demo_root, "collect", env=env)
    assert collected.returncode == 0, collected.stderr
    goes_out = in_minutes(demo_root, 45)
    draft_and_approve(demo_root, env, goes_out)

    # Cron hands it over 60 minutes ahead: half an hour ago it was not due yet.
    earlier = dt.datetime.now(UTC) - dt.timedelta(minutes=30)
    early = newsletter(demo_root, "run", "--now", earlier.isoformat(timespec="minutes"), env=env)
    assert early.returncode == 0, early.stderr
    assert early.stdout.endswith("; nothing to send\n")
    assert sendgrid.mail_sends == []

    due = newsletter(demo_root, "run", env=env)
    assert due.returncode == 0, due.stderr
    stamp = f"{goes_out:%Y-%m-%d %H:%M %Z}"
    assert (
        f"issue 2026-12: 30 accepted, 1 skipped, 0 failed, 0 unknown (complete, goes out {stamp})"
        in due.stdout
    )
    list_sends = [r for r in sendgrid.accepted_by_prism() if r.body.get("custom_args", {}).get("batch")]
    assert {r.body["send_at"] for r in list_sends} == {int(goes_out.timestamp())}  # that very minute
    recipients = [a for r in list_sends for a in r.recipients]
    assert sorted(recipients) == sorted(f"lid{i}@example.org" for i in range(30))
    assert "user1@example.com" not in recipients  # on SendGrid's suppression list
    report_mail = [r for r in sendgrid.accepted_by_prism() if r not in list_sends]
    assert [r.recipients for r in report_mail] == [["redactie@example.org"]]  # the editors' delivery report
    report_text = " ".join(report_mail[0].body["content"][0]["value"].split())
    local = goes_out.astimezone(ZoneInfo("Europe/Amsterdam"))
    month = "januari februari maart april mei juni juli augustus september oktober november december"
    when = f"{local.day} {month.split()[local.month - 1]} {local.year}, {local.hour}.{local.minute:02d} uur"
    assert "Het nummer gaat uit op " in report_text and f" {when}." in report_text  # in Dutch
    assert API_KEY not in due.stdout + due.stderr
    assert not re.search(r"lid\d+@|user1@", due.stdout + due.stderr), "a subscriber address was printed"

    again = newsletter(demo_root, "run", env=env)
    assert again.returncode == 0
    assert again.stdout.endswith("; nothing to send\n")
    assert len(sendgrid.accepted_by_prism()) == len(list_sends) + 1
    status = newsletter(demo_root, "status", env=env)
    until = goes_out - dt.timedelta(minutes=10)
    assert re.search(
        rf"^2026-12\s+scheduled at SendGrid\s+{goes_out:%Y-%m-%d %H:%M}\s+accepted 30, skipped 1, pending 0;"
        rf" recall until {until:%H:%M}: newsletter cancel 2026-12$",
        status.stdout,
        re.M,
    ), status.stdout


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)
def test_a_run_killed_during_a_send_is_completed_by_the_next_with_nobody_served_twice_or_unknown(
    demo_root, sendgrid: MockProxy, engine
):
    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    total = 2600  # three requests of at most 1000
    write_subscribers(demo_root, total)
    quick_requests(demo_root)
    assert newsletter(demo_root, "collect", env=env).returncode == 0
    draft_and_approve(demo_root, env, in_minutes(demo_root, 45))

    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDGRID_")}
    full.update(env, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "pipeline", "--root", str(demo_root), "run"]
    victim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full)
    killed = threading.Event()

    def kill_on_second_request(request: Recorded, moment: str) -> None:
        if request.path == "/v3/mail/send" and moment == "received" and len(sendgrid.mail_sends) == 2:
            victim.send_signal(signal.SIGKILL)
            killed.set()

    sendgrid.hook = kill_on_second_request
    victim.communicate(timeout=120)
    assert killed.is_set() and victim.returncode == -signal.SIGKILL
    sendgrid.hook = None

    second = newsletter(demo_root, "run", env=env)
    assert second.returncode == 0, second.stderr
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        counts = store.delivery_counts("2026-12")
    assert counts["pending"] == counts["in_flight"] == counts["failed"] == counts["unknown"] == 0
    assert counts["skipped"] == 1 and counts["accepted"] == total
    # The killed run's batch was cancelled and everyone in it sent again in a new one: once each.
    received = sendgrid.received()
    assert received.pop("redactie@example.org") == 1  # the editors' delivery report
    assert len(received) == total and set(received.values()) == {1}
    assert "0 unknown (complete" in second.stdout
    assert "cancelling batch" in second.stderr  # it said why it waited


def test_an_issue_is_due_an_hour_of_real_time_before_its_send_at_on_the_night_the_clocks_go_forward(
    demo_root: Path,
) -> None:
    """cron's now is in the instance's zone, like send_at: compared and added on the wall clock, 01:42 plus
    60 minutes was 02:42, 'before' 03:25, so the issue was handed over late; the log named 02:25, a time
    that does not exist that night."""
    write_issue(demo_root, send_at="2027-03-28 03:25")  # summer time: 01:25 UTC (02:00 became 03:00)
    config = load_config(demo_root)
    tz = config.settings.timezone
    lines: list[str] = []
    with Store(config.settings.state) as store:
        curate.approve(config, store, "2026-12", "Redactie", now=dt.datetime(2027, 3, 27, 12, tzinfo=UTC))

        def due(hour: int, minute: int) -> list[str]:
            now = dt.datetime(2027, 3, 28, hour, minute, tzinfo=tz)  # winter time, before the change
            return [i.id for i, _ in due_issues(config, store, now, lambda *a: lines.append(a[2]))]

        assert due(1, 20) == []  # 00:20 UTC: 65 minutes ahead
        assert lines == [
            "issue 2026-12: approved; goes out 2027-03-28 03:25 CEST, handed to SendGrid from 01:25"
        ]
        assert due(1, 30) == ["2026-12"]  # 00:30 UTC: 55 minutes ahead


def test_crons_clock_runs_on_in_real_time_through_the_hour_the_clocks_go_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipeline.run

    ticks = iter([0.0, 600.0])  # the clock is made, then read ten minutes later
    monkeypatch.setattr(pipeline.run, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))
    clock = clock_from(dt.datetime(2027, 10, 31, 2, 55, tzinfo=ZoneInfo("Europe/Amsterdam")))  # 00:55 UTC
    assert clock() == dt.datetime(2027, 10, 31, 1, 5, tzinfo=UTC)  # 02:05 winter time, not 03:05
