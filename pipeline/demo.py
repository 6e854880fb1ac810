"""`newsletter demo`: the whole flow on the bundled demo instance, offline, in a fresh folder.

The demo instance ships inside the package, ``pipeline/demo_instance/``: local feed files, sample
submissions (and two flawed ones: one with errors, one in policy language), partners' pledges and
progress files (and one flawed one), sample subscribers at example.org. Every stage runs on a copy,
in the order a real month goes through them: validate, collect, draft, check, approve, render, a
test send, ``run`` (cron) sending to the outbox, publish, the readers (the list into the state
database, a sign-up, SendGrid's signed events: a bounce and clicks), report.

The demo runs on one clock, which starts at the date its sample content was written
(``DEMO_NOW``) and runs on from there: collecting, drafting, approving, sending, the archive and
the report all see the same time, so the demo drafts the same issue whenever it runs and its
report counts the issue it sent.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.core.config import Config, load_config
from pipeline.core.errors import PipelineError, display_path
from pipeline.core.validate import validate
from pipeline.run import clock_from

DEMO_SOURCE = Path(__file__).resolve().parent / "demo_instance"
DEMO_NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
# The editors schedule the issue an hour ahead: cron hands it to SendGrid (here: the outbox) at once,
# held until then, and recallable until ten minutes before.
GOES_OUT = DEMO_NOW + dt.timedelta(hours=1)
ISSUE = "2026-12"
EDITORS_TEXT = {
    "subject": "Fietsen, laptops en een avond in Zwolle",
    "preheader": "Wat partners in november deden, wat we weten en waar we elkaar zien",
    "intro": "Deze maand: **fietsen** voor kinderen in Zwolle en opgeknapte laptops voor leerlingen. "
    "Leerplichtambtenaren leren armoede herkennen. En in december zien we elkaar in Zwolle.\n",
}

# Which stories (by position in the issue) each demo reader clicks: several partners get readers.
PICKS = ((0, 1, 2), (1, 3, 5), (2, 6), (4, 1))
Echo = Callable[[str], None]
Clock = Callable[[], dt.datetime]


@dataclass
class DemoResult:
    root: Path
    ok: bool = True
    files: list[tuple[str, Path]] = field(default_factory=list)


def prepare(into: Path | None) -> Path:
    """Copy the demo instance into a fresh folder and return it."""
    if not DEMO_SOURCE.is_dir():
        raise PipelineError(
            f"the demo instance is not here ({DEMO_SOURCE})",
            "run the demo from a clone of the repository (pip install -e .)",
        )
    if into is None:
        into = Path(tempfile.mkdtemp(prefix="newsletter-demo-")) / "instance"
    elif into.exists() and any(into.iterdir()):
        raise PipelineError(f"{into} is not empty", "pass a new folder to --into, or leave it out")
    ignore = shutil.ignore_patterns("state", "build", "outbox", "issues")
    shutil.copytree(DEMO_SOURCE, into, dirs_exist_ok=True, ignore=ignore)
    (into / "issues").mkdir(exist_ok=True)
    return into


def _edit_issue(path: Path, send_at: dt.datetime) -> None:
    """What an editor does by hand after 'draft': subject, preheader, intro and send_at."""
    text = path.read_text(encoding="utf-8")
    for key, value in EDITORS_TEXT.items():
        if key == "intro":
            block = "intro: |\n" + "".join(f"  {line}\n" if line else "\n" for line in value.splitlines())
            text = re.sub(r"^intro:.*$\n", block, text, count=1, flags=re.M)
        else:
            text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, count=1, flags=re.M)
    text = re.sub(r"^#? ?send_at:.*$", f"send_at: {send_at:%Y-%m-%d %H:%M}", text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")


def _plain_language(root: Path, echo: Echo) -> None:
    """A story in policy language, and the B1 warnings 'newsletter validate' gives its partner."""
    found = validate(root, [root / "flawed" / "beleidstaal.yaml"])
    echo(f"[validate] flawed/beleidstaal.yaml, in policy language ({len(found.warnings)} B1 warnings; "
         "warnings never fail validate):")  # fmt: skip
    for p in found.problems:
        echo(f"  {p}")


def _flawed_progress(root: Path, echo: Echo) -> None:
    """A partner's flawed progress file, checked where it belongs, as the partner sees it; then set
    aside (the partner fixes it), so the report lists Leerplicht Rotterdam as not reported yet."""
    target = root / "monitoring" / "2026" / "leerplicht-rotterdam.yaml"
    shutil.copyfile(root / "flawed-progress" / "leerplicht-rotterdam.yaml", target)
    found = validate(root, [target])
    shown = display_path(target, root)
    echo(f"[validate] {shown}, a partner's progress as it sees it ({len(found.errors)} errors):")
    for p in found.problems:
        echo(f"  {p}")
    target.unlink()


def _collect(config: Config, echo: Echo, clock: Clock) -> None:
    from pipeline.collect import collect
    from pipeline.core.store import Store

    with Store(config.settings.database) as store:
        summary = collect(config, store, now=clock())
        echo(f"[collect] {summary.line()}")
        demo_items = store.items()
    duplicates = [i for i in demo_items if i.url.endswith("/nieuws/fietsplan")]
    echo(f"  the fietsplan story (a feed with tracking parameters, and a submission): {len(duplicates)} item")
    for r in summary.failed:
        echo(f"  failed: {r.source}: {r.reason}")


def _curate(config: Config, root: Path, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline import curate
    from pipeline.core.issues import issue_path
    from pipeline.core.store import Store

    with Store(config.settings.database) as store:
        path = curate.draft(config, store, ISSUE, now=clock()).path
        text = path.read_text(encoding="utf-8")
        n = len(re.findall(r"^ +- item: ", text, re.M))
        echo(f"[draft] {display_path(path, root)}: {n} entries ranked in sections, runners-up below each")
        result.files.append(("drafted issue", path))

        # A flawed copy shows what 'check' says: an item twice, an unknown item, no subject.
        first = re.search(r"- item: (\S+)\n", text)
        flawed = issue_path(root, f"{ISSUE}-flawed")
        if first:
            broken = text.replace(f'id: "{ISSUE}"', f'id: "{ISSUE}-flawed"').replace(
                f"id: {ISSUE}\n", f"id: {ISSUE}-flawed\n"
            )
            broken = broken.replace(
                first.group(0),
                f"{first.group(0)}      - item: {first.group(1)}\n      - item: 0000deadbeef\n",
                1,
            )
            flawed.write_text(broken, encoding="utf-8")
            _issue, problems = curate.check_issue(config, store, f"{ISSUE}-flawed")
            echo(f"[check] a flawed copy of the issue ({sum(p.is_error for p in problems)} errors):")
            for p in problems:
                if p.is_error:
                    echo(f"  {p}")
            flawed.unlink()

        # The editor writes the subject, preheader, intro and send time, then approves.
        _edit_issue(path, GOES_OUT)
        _issue, problems = curate.check_issue(config, store, ISSUE)
        echo(
            f"[check] {display_path(path, root)}: {sum(p.is_error for p in problems)} errors, "
            f"{sum(not p.is_error for p in problems)} warnings"
        )
        approval = curate.approve(config, store, ISSUE, "Demo-redactie", now=clock())
        echo(f"[approve] approved by {approval.by} ({approval.fingerprint[:19]})")


def _render(config: Config, root: Path, echo: Echo, result: DemoResult) -> None:
    from pipeline.core.issues import load_issue
    from pipeline.render import build

    _prepared, paths = build(config, load_issue(config, ISSUE))
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.1f} KB" for p in paths)
    echo(f"[render] build/{ISSUE}/: {sizes}")
    result.files += [("email", paths[0]), ("text part", paths[1]), ("web page", paths[2])]


def _send(config: Config, root: Path, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline.core.issues import load_issue
    from pipeline.core.store import Store
    from pipeline.deliver import open_transport, send_test
    from pipeline.render import prepare
    from pipeline.run import run as cron_run

    env: Mapping[str, str] = {}  # no SENDGRID_API_KEY: everything goes to the outbox
    with Store(config.settings.database) as store:
        prepared = prepare(config, store, load_issue(config, ISSUE))
    test = send_test(config, prepared.rendered, ["redactie@example.org"], open_transport(config, env))
    echo(f"[send --to] a test copy to {test.recipients} address in {test.destination}{ISSUE}/")

    def log(level: str, event: str, message: str, fields: Mapping[str, Any]) -> None:
        if level != "info":
            echo(f"  {level}: {message}")

    outcome = cron_run(config, now=clock(), env=env, log=log)
    echo(f"[run] {outcome.line()}")
    until = (GOES_OUT - dt.timedelta(minutes=10)).strftime("%H:%M")
    echo(f"  held until {GOES_OUT:%H:%M}; until {until}, 'newsletter cancel {ISSUE}' recalls it")
    outbox = root / "outbox" / ISSUE
    messages = sorted(outbox.glob("*.eml"))
    echo(f"  outbox/{ISSUE}/: {len(messages)} .eml files (the sample list minus duplicates and bad rows)")
    if messages:
        result.files.append(("a sent message", messages[0]))
    again = cron_run(config, now=clock(), env=env, log=log)
    echo(f"[run] again: {again.line()}")


def _publish(config: Config, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline.core.store import Store
    from pipeline.publish import FEED, build_site, site_folder, write_site

    # The archive shows an issue once it went out (until then it can be recalled): publish after it.
    later = GOES_OUT + dt.timedelta(minutes=5)
    with Store(config.settings.database) as store:
        site = build_site(config, store, now=later.astimezone(dt.UTC))
    written = write_site(site, site_folder(config))
    echo(
        f"[publish] at {later:%H:%M}, after it went out: {len(site.issues)} issue(s), {len(site.themes)}"
        f" theme and {len(site.partners)} partner pages in build/site/ ({len(written.changed)} files);"
        f" feed: {config.settings.archive_url}{FEED}"
    )
    result.files.append(("archive", site_folder(config) / "index.html"))


def _readers(config: Config, root: Path, echo: Echo, clock: Clock) -> None:
    """What 'newsletter serve' brings in, without a server: the sample list moves into the state
    database, a reader signs up and confirms, and SendGrid's signed events (a bounce, clicks on the
    stories) come back through the webhook's own checks, signed with a key pair made here."""
    import time

    from pipeline import audience
    from pipeline.audience.signing import EventSigner, events_body
    from pipeline.core.store import Person, Store
    from pipeline.render import add_utm

    now = clock().astimezone(dt.UTC)
    with Store(config.settings.database) as store:
        counts, _problems = audience.import_list(
            config, store, config.root / "subscribers.csv", "demo: voorbeeldadressen", now
        )
        echo(f"[subscribers import] subscribers.csv into the state database: {counts['added']} active")
        reader = Person("lezer@example.org", "Lezer", None, "utrecht", audience.FORM, "1")
        signup = audience.signup(config, store, reader, now)
        assert signup.token is not None  # a new address always gets its link
        audience.confirmation_mail(config, reader.email, signup.token, "http://127.0.0.1:8080", {}, now)
        outcome = audience.confirm(store, signup.token, now + dt.timedelta(minutes=3))
        echo(
            f"[serve] a reader signs up at /aanmelden, gets the link in outbox/aanmelden/ and follows it:"
            f" {outcome}; {store.subscriber_counts()['active']} active subscribers, consent on record"
        )

        # The readers' clicks, as SendGrid posts them: the email's links, with their UTM parameters.
        stories = [store.get_item(p.item) for p in store.sent_items(ISSUE)]
        urls = [add_utm(item.url, config.settings.utm, ISSUE) for item in stories if item and item.url]
        readers = ["anna.devries@example.org", "carla@example.org", "daan.bakker@example.org", reader.email]
        after = GOES_OUT.astimezone(dt.UTC)
        events: list[dict[str, Any]] = [
            {"sg_event_id": f"demo-click-{n}", "event": "click", "email": who, "url": url, "issue": ISSUE,
             "timestamp": int((after + dt.timedelta(minutes=7 + n)).timestamp())}
            for n, (who, url) in enumerate(
                [(who, urls[k % len(urls)]) for who, ks in zip(readers, PICKS, strict=True) for k in ks]
            )
        ]  # fmt: skip
        events.append({"sg_event_id": "demo-bounce", "event": "bounce", "email": "bram.jansen@example.org",
                       "reason": "550 5.1.1 mailbox unavailable", "issue": ISSUE,
                       "timestamp": int((after + dt.timedelta(minutes=2)).timestamp())})  # fmt: skip
        signer = EventSigner.new()
        body = events_body(events)
        stamp = int(time.time())
        audience.verify(signer.public_key, body, signer.headers(body, stamp), stamp)
        applied = audience.apply_events(store, audience.read_events(body), now)
        try:
            audience.verify(signer.public_key, body, {}, stamp)
            refused = "accepted"
        except audience.WebhookRefused as e:
            refused = f"refused ({e.status}: {e.message})"
    echo(
        f"[webhook] {len(events)} signed events: {applied.stored} stored, {applied.inactivated} subscriber"
        f" inactive (a bounce); the same body unsigned: {refused}"
    )


def _report(config: Config, root: Path, echo: Echo, result: DemoResult) -> None:
    from pipeline.core.store import Store
    from pipeline.report import build_report, default_period, summary_lines, write_report

    start, end = default_period(DEMO_NOW.date())
    with Store(config.settings.database) as store:
        report = build_report(config, store, start=start, end=end)
    paths = write_report(config, report, root / "build" / "report")
    echo(
        f"[report] {display_path(paths[0], root)} and {len(paths) - 1} CSV files; the coordinator sees first:"
    )
    for line in summary_lines(report):
        echo(line)
    result.files.append(("partner report", paths[0]))


def run(into: Path | None, echo: Echo) -> DemoResult:
    root = prepare(into)
    result = DemoResult(root)
    echo(f"Demo instance copied to {root}")

    # 1. Validate what people wrote, and show what a partner sees for a flawed submission
    #    (flawed/ is outside the submissions folder, so collect never reads it).
    report = validate(root)
    counts = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    echo(f"[validate] {len(report.checked)} files: {counts}")
    flawed = validate(root, [root / "flawed" / "onze-moestuin.yaml"])
    echo(f"[validate] flawed/onze-moestuin.yaml, as a partner sees it ({len(flawed.errors)} errors):")
    for p in flawed.problems:
        echo(f"  {p}")
    _plain_language(root, echo)
    _flawed_progress(root, echo)
    if report.errors:
        result.ok = False
        return result
    config = load_config(root)
    clock = clock_from(DEMO_NOW)  # one clock for every stage, starting on the demo's date
    _collect(config, echo, clock)
    _curate(config, root, echo, result, clock)
    _render(config, root, echo, result)
    _send(config, root, echo, result, clock)
    _publish(config, echo, result, clock)
    _readers(config, root, echo, clock)
    _report(config, root, echo, result)
    return result
