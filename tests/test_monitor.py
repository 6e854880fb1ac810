"""`newsletter monitor remind`: who gets a progress reminder, the outbox, never twice, SendGrid.

The demo instance: six partners have a pledge; Zwolle, GGD Fryslân (both halves), Leergeld Brabant
and the alliance itself reported for 2026; De Laptopfabriek and Leerplicht Rotterdam did not, and
both have a monitoring contact.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Cli

from pipeline import monitor
from pipeline.domain.monitoring import Period
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
CONTACTS = ("impact@laptopfabriek.example.nl", "leerplicht-monitoring@rotterdam.example.nl")


@pytest.fixture(autouse=True)
def no_sendgrid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox, whatever the developer's shell has set."""
    for key in list(os.environ):
        if key.startswith("SENDGRID_"):
            monkeypatch.delenv(key)


def messages(root: Path, period: str = "2026") -> dict[str, EmailMessage]:
    folder = root / "outbox" / f"monitor-{period}"
    found = {p.stem: p for p in folder.glob("*.eml")}
    return {
        stem: email.message_from_bytes(found[stem].read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for stem in sorted(found)
    }


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def attachment(msg: EmailMessage) -> tuple[str | None, str]:
    (part,) = list(msg.iter_attachments())
    return part.get_filename(), part.get_content().decode("utf-8")


def test_dry_run_lists_partners_and_sends_nothing(cli: Cli, demo_root: Path) -> None:
    result = cli("monitor", "remind", "2026", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Reminders for 2026 would go through outbox/monitor-2026/:",
        "  would remind: De Laptopfabriek (laptopfabriek), for 2026",
        "  would remind: Leerplicht Rotterdam (leerplicht-rotterdam), for 2026",
        "  reported: Gemeente Zwolle; GGD Fryslân, jeugdgezondheidszorg; Stichting Leergeld Brabant; "
        "Samen tegen Kinderarmoede",
        "2 reminders would be sent; nothing was sent.",
    ]
    assert "@" not in result.output  # partners are named; addresses are never printed
    assert not (demo_root / "outbox").exists()
    with Store(load_config(demo_root).settings.state) as store:
        assert store.reminders("2026") == {}


def test_reminders_go_to_the_outbox_once(cli: Cli, demo_root: Path) -> None:
    tz = load_config(demo_root).settings.timezone
    first_day = dt.datetime.now(tz).date()  # the reminders' day, unless they go out just after midnight
    result = cli("monitor", "remind", "2026")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "Reminded 2 partners for 2026 through outbox/monitor-2026/: De Laptopfabriek; Leerplicht Rotterdam."
    )
    assert "@" not in result.output
    sent = messages(demo_root)
    assert list(sent) == ["laptopfabriek", "leerplicht-rotterdam"]
    msg = sent["leerplicht-rotterdam"]
    assert msg["To"] == "Fatima el Amrani <leerplicht-monitoring@rotterdam.example.nl>"
    assert msg["Subject"] == "Herinnering: uw voortgang over 2026 voor Partners in beeld"
    assert msg["Reply-To"] == "redactie@example.org"
    assert "List-Unsubscribe" not in msg  # a note to a partner, not a list mail
    text = text_of(msg)
    assert text.startswith('Beste Fatima el Amrani,\n\nIn "Partners in beeld" laat Nieuwsbrief')
    assert "Uw toezegging (sinds 1 juni 2024):\n  Elke leerplichtambtenaar leert armoede herkennen" in text
    assert "    newsletter validate monitoring/2026/leerplicht-rotterdam.yaml\n" in text
    name, content = attachment(msg)
    assert name == "leerplicht-rotterdam.yaml"
    assert "partner: leerplicht-rotterdam\nperiod: 2026 " in content
    # Never to the subscriber list: the only addresses are the two monitoring contacts.
    subscribers = (demo_root / "subscribers.csv").read_text(encoding="utf-8").lower()
    for m in sent.values():
        assert m["To"].addresses[0].addr_spec in CONTACTS
        assert m["To"].addresses[0].addr_spec not in subscribers

    again = cli("monitor", "remind", "2026")
    assert again.exit_code == 0
    days = sorted({first_day, dt.datetime.now(tz).date()})  # one day, or two when the test spans midnight
    assert any(
        again.stdout.splitlines()
        == [
            "Reminded 0 partners for 2026 through outbox/monitor-2026/.",
            "  reported: Gemeente Zwolle; GGD Fryslân, jeugdgezondheidszorg; Stichting Leergeld Brabant; "
            "Samen tegen Kinderarmoede",
            f"  reminded before (--again to remind them once more): De Laptopfabriek ({a}); "
            f"Leerplicht Rotterdam ({b})",
        ]
        for a in days
        for b in days
    ), again.stdout
    assert list(messages(demo_root)) == ["laptopfabriek", "leerplicht-rotterdam"]  # nobody mailed twice

    second = cli("monitor", "remind", "2026", "--again")
    assert second.exit_code == 0
    assert list(messages(demo_root)) == [
        "laptopfabriek", "laptopfabriek-2", "leerplicht-rotterdam", "leerplicht-rotterdam-2",
    ]  # fmt: skip
    with Store(load_config(demo_root).settings.state) as store:
        rows = store.reminders("2026")
    assert {p: (r.seq, r.state, r.via) for p, r in rows.items()} == {
        "laptopfabriek": (2, "sent", "outbox"), "leerplicht-rotterdam": (2, "sent", "outbox"),
    }  # fmt: skip


def test_a_partner_with_half_a_year_is_asked_for_the_other_half(demo_root: Path) -> None:
    (demo_root / "monitoring" / "2026" / "jgz-fryslan-h2.yaml").unlink()
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        result = monitor.remind(config, store, Period(2026), env={}, now=NOW)
    jgz = next(d for d in result.plan.partners if d.partner == "jgz-fryslan")
    assert (jgz.status, jgz.asks_for) == ("due", Period(2026, 2))
    msg = messages(demo_root)["jgz-fryslan"]
    # A long subject is folded onto a second header line; mail programs unfold it.
    assert msg["Subject"].strip() == "Herinnering: uw voortgang over tweede helft 2026 voor Partners in beeld"
    name, content = attachment(msg)
    assert name == "jgz-fryslan-h2.yaml" and "\nperiod: 2026-H2 " in content
    # For the first half alone, GGD Fryslân has reported.
    with Store(config.settings.state) as store:
        first = monitor.plan(config, store, Period(2026, 1), env={})
    assert next(d for d in first.partners if d.partner == "jgz-fryslan").status == "reported"


def test_a_file_with_errors_is_named_and_its_problems_quoted(cli: Cli, demo_root: Path) -> None:
    flawed = demo_root / "flawed-progress" / "leerplicht-rotterdam.yaml"
    (demo_root / "monitoring" / "2026" / "leerplicht-rotterdam.yaml").write_bytes(flawed.read_bytes())
    dry = cli("monitor", "remind", "2026", "--dry-run")
    assert (
        "  would remind: Leerplicht Rotterdam (leerplicht-rotterdam), for 2026; its file "
        "monitoring/2026/leerplicht-rotterdam.yaml has errors" in dry.stdout.splitlines()
    )
    assert cli("monitor", "remind", "2026").exit_code == 0
    text = text_of(messages(demo_root)["leerplicht-rotterdam"])
    assert (
        "In monitoring/2026/leerplicht-rotterdam.yaml staan nog fouten, daarom telt het niet mee:\n" in text
    )
    assert (
        "  - regel 4: 'period' should be a year (2026) or a half year (2026-H1 or 2026-H2), not '2026-Q3'\n"
        in text
    )


def test_without_a_contact_nobody_is_reminded_and_the_output_says_so(cli: Cli, demo_root: Path) -> None:
    src = demo_root / "sources.yaml"
    text = src.read_text(encoding="utf-8")
    src.write_text(
        text.replace(
            "    monitoring_contact: {name: Ahmed Bakker, email: impact@laptopfabriek.example.nl}\n", ""
        ),
        encoding="utf-8",
    )
    result = cli("monitor", "remind", "2026")
    assert result.exit_code == 0
    assert "  no monitoring_contact in sources.yaml, so nobody to remind: De Laptopfabriek" in result.stdout
    assert list(messages(demo_root)) == ["leerplicht-rotterdam"]


def test_a_reminder_a_killed_run_left_sending_is_not_sent_again_silently(cli: Cli, demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        store.start_reminder("2026", "laptopfabriek", "sendgrid", NOW)  # the run died before the answer
    result = cli("monitor", "remind", "2026")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: 1 reminder of an earlier run that ended early may or may not have gone; it is not "
        "sent again without --again"
    ]
    assert (
        "  a reminder may have gone, its answer was lost (--again sends another): De Laptopfabriek"
        in result.stdout.splitlines()
    )
    assert list(messages(demo_root)) == ["leerplicht-rotterdam"]
    assert cli("monitor", "remind", "2026", "--again").exit_code == 0
    assert list(messages(demo_root)) == ["laptopfabriek-2", "leerplicht-rotterdam", "leerplicht-rotterdam-2"]
    # (Its first reminder is the one the killed run may have sent: the file of the second is -2.)


def test_a_pledge_that_starts_after_the_period_asks_for_nothing(demo_root: Path) -> None:
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        before = monitor.plan(config, store, Period(2026, 1), env={})
    # De Laptopfabriek pledged on 15 October 2026: asked for 2026 and its second half, not the first.
    assert "laptopfabriek" not in {d.partner for d in before.partners}
    assert [d.partner for d in before.due] == ["leerplicht-rotterdam"]


def test_a_period_that_is_not_one_is_a_usage_error(cli: Cli) -> None:
    result = cli("monitor", "remind", "2026-Q3")
    assert result.exit_code == 2
    assert "'2026-Q3' is not a year (2026) or a half year (2026-H1 or 2026-H2)" in result.stderr


@pytest.mark.mock
def test_through_sendgrid_each_contact_gets_one_request_with_the_file(demo_root: Path, sendgrid) -> None:  # type: ignore[no-untyped-def]
    from sendgrid_mock import API_KEY

    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    config = load_config(demo_root)
    with Store(config.settings.state) as store:
        result = monitor.remind(config, store, Period(2026), env=env, now=NOW)
        assert [(o.partner, o.state) for o in result.outcomes] == [
            ("laptopfabriek", "sent"), ("leerplicht-rotterdam", "sent"),
        ]  # fmt: skip
        assert result.plan.destination == f"SendGrid ({sendgrid.url})"
        sends = sendgrid.accepted_by_prism()
        assert [r.recipients for r in sends] == [[CONTACTS[0]], [CONTACTS[1]]]
        body = sends[1].body
        assert body["subject"] == "Herinnering: uw voortgang over 2026 voor Partners in beeld"
        assert "asm" not in body  # not a list mail: no unsubscribe group
        assert body["categories"] == ["monitoring"]
        assert body["custom_args"] == {"monitoring": "2026", "partner": "leerplicht-rotterdam"}
        (file,) = body["attachments"]
        assert (file["filename"], file["type"], file["disposition"]) == (
            "leerplicht-rotterdam.yaml",
            "application/yaml",
            "attachment",
        )
        import base64

        assert (
            base64.b64decode(file["content"])
            .decode()
            .startswith("# Voortgang van Leerplicht Rotterdam over 2026")
        )
        assert {r.state for r in store.reminders("2026").values()} == {"sent"}
        # Again: nobody is due, so nothing is requested.
        again = monitor.remind(config, store, Period(2026), env=env, now=NOW)
        assert again.outcomes == () and len(sendgrid.mail_sends) == 2


@pytest.mark.mock
def test_a_refused_reminder_is_failed_and_tried_again_next_run(demo_root: Path, sendgrid) -> None:  # type: ignore[no-untyped-def]
    from sendgrid_mock import API_KEY

    env = {"SENDGRID_API_KEY": API_KEY, "SENDGRID_HOST": sendgrid.url}
    config = load_config(demo_root)
    sendgrid.fault = lambda r: "400" if len(sendgrid.mail_sends) == 1 else None
    with Store(config.settings.state) as store:
        result = monitor.remind(config, store, Period(2026), env=env, now=NOW)
        assert [(o.partner, o.state) for o in result.outcomes] == [
            ("laptopfabriek", "failed"), ("leerplicht-rotterdam", "sent"),
        ]  # fmt: skip
        assert (result.outcomes[0].reason or "").startswith("SendGrid answered 400")
        sendgrid.fault = None
        retry = monitor.remind(config, store, Period(2026), env=env, now=NOW)
        assert [(o.partner, o.state) for o in retry.outcomes] == [("laptopfabriek", "sent")]
        assert store.reminders("2026")["laptopfabriek"].seq == 2
