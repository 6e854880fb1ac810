"""`newsletter demo`: the whole flow on the bundled demo instance, offline, in a folder of your choice.

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

It prints one line per stage; the deliberate mistakes in the flawed files are summarised (their
count, and what was planted), not listed: ``newsletter validate FILE`` shows each one at its line.
The folder is marked as a demo (``MARKER``): running the demo into it again starts it over, while
any other folder that is not empty is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.domain.config import Config
from pipeline.domain.errors import PipelineError, display_path
from pipeline.domain.i18n import N_, _, ngettext
from pipeline.domain.plain import is_advice
from pipeline.infra.instance import load_config
from pipeline.infra.validate import validate
from pipeline.run import clock_from

DEMO_SOURCE = Path(__file__).resolve().parent / "demo_instance"
DEMO_NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
# The editors schedule the issue an hour ahead: cron hands it to SendGrid (here: the outbox) at once,
# held until then, and recallable until ten minutes before.
GOES_OUT = DEMO_NOW + dt.timedelta(hours=1)
ISSUE = "2026-12"
# Written into the folder the demo runs in: a folder holding it may be started over by a new demo.
MARKER = ".newsletter-demo"
MARKER_TEXT = (
    "This folder holds a demo made by 'newsletter demo'; running the demo here again starts it over.\n"
)
# What the demo makes itself (the rest is copied from DEMO_SOURCE): removed when a demo starts over.
MADE = ("state", "build", "outbox", "issues")
# What was planted in each flawed file, for the summary (each message: 'newsletter validate FILE').
# The counts next to these are validate's own; keep these words true to pipeline/demo_instance/.
PLANTED = {
    "flawed/onze-moestuin.yaml": N_(
        "a misspelt partner, theme and key, HTML in the title, a web address without https://, "
        "31 November, an image without alt or consent"
    ),
    "flawed/beleidstaal.yaml": N_("stadhuistaal, long sentences and words, passive voice"),
    "monitoring/2026/leerplicht-rotterdam.yaml": N_(
        "a quarter as period, a misspelt theme, 'ongeveer 200' as a number, a Dutch key, a negative number"
    ),
}
EDITORS_TEXT = {
    "subject": "Fietsen, laptops en een avond in Zwolle",
    "preheader": "Wat partners in november deden, wat we weten en waar we elkaar zien",
    "intro": "Deze maand: **fietsen** voor kinderen in Zwolle en opgeknapte laptops voor leerlingen. "
    "Leerplichtambtenaren leren armoede herkennen. En in december zien we elkaar in Zwolle.\n",
}

# A warning or error a stage logs (cron's run), as the demo shows it.
LOG_LINES = {"warning": N_("  warning: {message}"), "error": N_("  error: {message}")}
# What the demo's reader gets on following the sign-up link (pipeline.audience.confirm).
OUTCOMES = {"confirmed": N_("confirmed")}

# Which stories (by position in the issue) each demo reader clicks: several partners get readers.
PICKS = ((0, 1, 2), (1, 3, 5), (2, 6), (4, 1))
Echo = Callable[[str], None]
Clock = Callable[[], dt.datetime]


@dataclass
class DemoResult:
    root: Path  # as given (a relative folder stays relative: the line to continue there names it so)
    ok: bool = True
    files: list[tuple[str, Path]] = field(default_factory=list)  # (what, in English: translate it; where)


def is_demo(folder: Path) -> bool:
    """Whether FOLDER holds a demo made earlier (its marker file is there)."""
    return (folder / MARKER).is_file()


def prepare(into: Path) -> Path:
    """Copy the demo instance into INTO and return it.

    INTO may be missing, empty, or hold an earlier demo: then what the demo made (its state, build,
    outbox and issues) is removed and the copied files are written again. Any other folder with
    files in it is refused, so the demo never writes into someone's own work.
    """
    if not DEMO_SOURCE.is_dir():
        raise PipelineError(
            _("the demo instance is not here ({folder})").format(folder=DEMO_SOURCE),
            _("run the demo from a clone of the repository (pip install -e .)"),
        )
    if into.exists() and not into.is_dir():
        raise PipelineError(
            _("{folder} is a file, not a folder").format(folder=into),
            _("give the demo a folder: newsletter demo DIR"),
        )
    if into.is_dir() and any(into.iterdir()):
        if not is_demo(into):
            raise PipelineError(
                _("{folder} is not empty and holds no earlier demo").format(folder=into),
                _("give the demo a new or empty folder: newsletter demo DIR"),
            )
        for name in MADE:
            shutil.rmtree(into / name, ignore_errors=True)
    ignore = shutil.ignore_patterns(*MADE)
    shutil.copytree(DEMO_SOURCE, into, dirs_exist_ok=True, ignore=ignore)
    (into / "issues").mkdir(exist_ok=True)
    (into / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return into


def _counts(errors: int, warnings: int, advice: bool = False) -> str:
    """'7 errors, 1 warning' ('14 B1 warnings' when all are ``advice``): the counts that are not zero."""
    parts = [ngettext("{n} error", "{n} errors", errors).format(n=errors)] if errors else []
    if warnings and advice:
        parts.append(ngettext("{n} B1 warning", "{n} B1 warnings", warnings).format(n=warnings))
    elif warnings:
        parts.append(ngettext("{n} warning", "{n} warnings", warnings).format(n=warnings))
    return ", ".join(parts) or _("no problems")


def _edit_issue(path: Path, send_at: dt.datetime) -> None:
    """What an editor does by hand after 'draft': subject, preheader, intro, send_at, and the agenda
    personalised by province."""
    text = path.read_text(encoding="utf-8")
    for key, value in EDITORS_TEXT.items():
        if key == "intro":
            block = "intro: |\n" + "".join(f"  {line}\n" if line else "\n" for line in value.splitlines())
            text = re.sub(r"^intro:.*$\n", block, text, count=1, flags=re.M)
        else:
            text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, count=1, flags=re.M)
    text = re.sub(r"^#? ?send_at:.*$", f"send_at: {send_at:%Y-%m-%d %H:%M}", text, count=1, flags=re.M)
    # The agenda by province: a reader who chose hers gets its events first (docs/formats.md, "Editions").
    agenda = r"^(  - section: agenda\b.*\n)"
    text = re.sub(agenda, r"\1    personalise: provinces\n", text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")


def _flawed(root: Path, echo: Echo) -> None:
    """The deliberate mistakes, as 'newsletter validate' counts them for the partners who made them:
    a flawed submission, a story in policy language (B1 warnings only), and a flawed progress file,
    checked where it belongs and then set aside (the partner fixes it), so the report lists
    Leerplicht Rotterdam as not reported yet. flawed/ is outside submissions/: collect never reads it."""
    progress = root / "monitoring" / "2026" / "leerplicht-rotterdam.yaml"
    shutil.copyfile(root / "flawed-progress" / "leerplicht-rotterdam.yaml", progress)
    try:
        found = [
            (path, validate(root, [path], now=DEMO_NOW))
            for path in (
                root / "flawed" / "onze-moestuin.yaml",
                root / "flawed" / "beleidstaal.yaml",
                progress,
            )
        ]
    finally:
        progress.unlink()
    echo(_("[validate] files with deliberate mistakes, as their partners see them:"))
    for path, report in found:
        shown = display_path(path, root)
        advice = all(is_advice(p) for p in report.warnings)
        counts = _counts(len(report.errors), len(report.warnings), advice)
        planted = _(PLANTED[shown]) if shown in PLANTED else _("see its messages")
        echo(f"  {shown}: {counts}: {planted}")
    echo(_("  each one at its line, with the fix: newsletter validate flawed/onze-moestuin.yaml"))


def _collect(config: Config, echo: Echo, clock: Clock) -> None:
    from pipeline.collect import collect
    from pipeline.infra.store import Store

    with Store(config.settings.database) as store:
        summary = collect(config, store, now=clock())
        demo_items = store.items()
    duplicates = [i for i in demo_items if i.url.endswith("/nieuws/fietsplan")]
    n = len(duplicates)
    once = ngettext(
        "[collect] {summary}; the fietsplan story, in a feed and a submission: {n} item",
        "[collect] {summary}; the fietsplan story, in a feed and a submission: {n} items",
        n,
    )
    echo(once.format(summary=summary.line(), n=n))
    for r in summary.failed:
        echo(_("  failed: {source}: {reason}").format(source=r.source, reason=r.reason))


def _curate(config: Config, root: Path, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline import curate
    from pipeline.domain.issues import issue_path
    from pipeline.infra.store import Store

    with Store(config.settings.database) as store:
        path = curate.draft(config, store, ISSUE, now=clock()).path
        text = path.read_text(encoding="utf-8")
        n = len(re.findall(r"^ +- item: ", text, re.M))
        drafted = _("[draft] {path}: {n} entries ranked in sections, runners-up below each")
        echo(drafted.format(path=display_path(path, root), n=n))
        flawed_errors = 0
        result.files.append((N_("the drafted issue"), path))

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
            flawed_errors = sum(p.is_error for p in problems)
            flawed.unlink()

        # The editor writes the subject, preheader, intro and send time, then approves.
        _edit_issue(path, GOES_OUT)
        _issue, problems = curate.check_issue(config, store, ISSUE)
        errors = sum(p.is_error for p in problems)
        checked = _(
            "[check] {path}, as the editors wrote it: {errors} errors, {warnings} warnings; "
            "a flawed copy: {flawed} (no subject, an item twice, an unknown item)"
        )
        echo(
            checked.format(
                path=display_path(path, root),
                errors=errors,
                warnings=len(problems) - errors,
                flawed=_counts(flawed_errors, 0),
            )
        )
        approval = curate.approve(config, store, ISSUE, "Demo-redactie", now=clock())
        approved = _("[approve] approved by {name} ({fingerprint})")
        echo(approved.format(name=approval.by, fingerprint=approval.fingerprint[:19]))


def _render(config: Config, root: Path, echo: Echo, result: DemoResult) -> None:
    from pipeline.infra.instance import load_issue
    from pipeline.render import build

    _prepared, paths = build(config, load_issue(config, ISSUE))
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.1f} KB" for p in paths)
    echo(f"[render] build/{ISSUE}/: {sizes}")
    result.files.append((N_("the email"), paths[0]))


def _send(config: Config, root: Path, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline.deliver import open_transport, send_test
    from pipeline.domain.models import DeliveryState
    from pipeline.infra.instance import load_issue
    from pipeline.infra.store import Store
    from pipeline.render import prepare
    from pipeline.run import run as cron_run

    env: Mapping[str, str] = {}  # no SENDGRID_API_KEY: everything goes to the outbox
    with Store(config.settings.database) as store:
        prepared = prepare(config, store, load_issue(config, ISSUE))
    test = send_test(config, prepared.rendered, ["redactie@example.org"], open_transport(config, env))
    tested = ngettext(
        "[send --to] a test copy to {n} address in {folder}",
        "[send --to] a test copy to {n} addresses in {folder}",
        test.recipients,
    )
    echo(tested.format(n=test.recipients, folder=f"{test.destination}{ISSUE}/test/"))

    def log(level: str, event: str, message: str, fields: Mapping[str, Any]) -> None:
        if level != "info":
            line = _(LOG_LINES[level]) if level in LOG_LINES else f"  {level}: {{message}}"
            echo(line.format(message=message))

    outcome = cron_run(config, now=clock(), env=env, log=log)
    accepted = sum(o.counts.get(DeliveryState.ACCEPTED, 0) for o in outcome.issues if o.issue_id == ISSUE)
    outbox = root / "outbox" / ISSUE
    messages = sorted(outbox.glob("*.eml"))
    again = cron_run(config, now=clock(), env=env, log=log)
    until = (GOES_OUT - dt.timedelta(minutes=10)).strftime("%H:%M")
    if not any(o.action == "sent" for o in again.issues):
        ran = _(
            "[run] issue {issue}: {accepted} accepted, into outbox/{issue}/ ({files} .eml files), held until "
            "{time}; 'newsletter cancel {issue}' recalls it until {until}; a second run sends nothing"
        )
    else:
        ran = _(
            "[run] issue {issue}: {accepted} accepted, into outbox/{issue}/ ({files} .eml files), held until "
            "{time}; 'newsletter cancel {issue}' recalls it until {until}; a second run sent it again (a bug)"
        )
    echo(
        ran.format(issue=ISSUE, accepted=accepted, files=len(messages), time=f"{GOES_OUT:%H:%M}", until=until)
    )


def _publish(config: Config, echo: Echo, result: DemoResult, clock: Clock) -> None:
    from pipeline.infra.store import Store
    from pipeline.publish import FEED, build_site, site_folder, write_site

    # The archive shows an issue once it went out (until then it can be recalled): publish after it.
    later = GOES_OUT + dt.timedelta(minutes=5)
    with Store(config.settings.database) as store:
        site = build_site(config, store, now=later.astimezone(dt.UTC))
    written = write_site(site, site_folder(config))
    published = _(
        "[publish] at {time}, after it went out: {issues} issue(s), {themes} theme, {provinces} province and "
        "{partners} partner pages in build/site/ ({files} files); feed: {feed}"
    )
    echo(
        published.format(
            time=f"{later:%H:%M}",
            issues=len(site.issues),
            themes=len(site.themes),
            provinces=len(site.provinces),
            partners=len(site.partners),
            files=len(written.changed),
            feed=f"{config.settings.archive_url}{FEED}",
        )
    )
    result.files.append((N_("the archive"), site_folder(config) / "index.html"))


def _readers(config: Config, root: Path, echo: Echo, clock: Clock) -> None:
    """What 'newsletter serve' brings in, without a server: the sample list moves into the state
    database, a reader signs up and confirms, and SendGrid's signed events (a bounce, clicks on the
    stories) come back through the webhook's own checks, signed with a key pair made here."""
    import time

    from pipeline import audience
    from pipeline.audience.signing import EventSigner, events_body
    from pipeline.infra.store import Person, Store
    from pipeline.render import add_utm

    now = clock().astimezone(dt.UTC)
    with Store(config.settings.database) as store:
        counts, _problems = audience.import_list(
            config, store, config.root / "subscribers.csv", "demo: voorbeeldadressen", now
        )
        imported = _("[subscribers import] subscribers.csv into the state database: {n} active")
        echo(imported.format(n=counts["added"]))
        reader = Person("lezer@example.org", "Lezer", None, "utrecht", audience.FORM, "1")
        signup = audience.signup(config, store, reader, now)
        assert signup.token is not None  # a new address always gets its link
        audience.confirmation_mail(config, reader.email, signup.token, "http://127.0.0.1:8080", {}, now)
        outcome = audience.confirm(store, signup.token, now + dt.timedelta(minutes=3))
        served = _(
            "[serve] a reader signs up at /aanmelden, gets the link in outbox/aanmelden/ and follows it: "
            "{outcome}; {n} active subscribers, consent on record"
        )
        shown = _(OUTCOMES[outcome]) if outcome in OUTCOMES else outcome
        echo(served.format(outcome=shown, n=store.subscriber_counts()["active"]))

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
            refused = _("accepted")
        except audience.WebhookRefused as e:
            refused = _("refused ({status}: {reason})").format(status=e.status, reason=e.message)
    hooked = _(
        "[webhook] {n} signed events: {stored} stored, {inactive} subscriber inactive (a bounce); "
        "the same body unsigned: {unsigned}"
    )
    echo(hooked.format(n=len(events), stored=applied.stored, inactive=applied.inactivated, unsigned=refused))


def _report(config: Config, root: Path, echo: Echo, result: DemoResult) -> None:
    from pipeline.infra.store import Store
    from pipeline.report import build_report, default_period, write_report

    start, end = default_period(DEMO_NOW.date())
    with Store(config.settings.database) as store:
        report = build_report(config, store, start=start, end=end)
    paths = write_report(config, report, root / "build" / "report")
    t = report.totals
    parts = [
        _("{items} items from {active} of {partners} partners").format(
            items=t.partner_items, active=t.active_partners, partners=t.partners
        )
    ]
    if report.monitoring is not None:
        m = report.monitoring.totals
        parts.append(
            _("progress from {reported} of {partners} partners").format(
                reported=m.reported, partners=m.partners
            )
        )
    silent = len(report.silent)
    parts.append(ngettext("{n} partner to call", "{n} partners to call", silent).format(n=silent))
    if report.clicks is not None:
        clickers = report.clicks.clickers
        parts.append(ngettext("{n} reader clicked", "{n} readers clicked", clickers).format(n=clickers))
    reported = _("[report] {path} and {n} CSV files: {parts}")
    echo(reported.format(path=display_path(paths[0], root), n=len(paths) - 1, parts="; ".join(parts)))
    result.files.append((N_("the partners' report"), paths[0]))


def run(into: Path, echo: Echo) -> DemoResult:
    """Every stage on a copy of the demo instance in INTO (see prepare), one line each through ECHO."""
    again = is_demo(into)
    root = prepare(into)
    result = DemoResult(root)
    if again:
        echo(_("Earlier demo in {folder} started over").format(folder=root.absolute()))
    else:
        echo(_("Demo instance copied to {folder}").format(folder=root.absolute()))

    # 1. Validate what people wrote, and what partners see for their flawed files.
    report = validate(root, now=DEMO_NOW)
    validated = _("[validate] {n} files: {errors} errors, {warnings} warnings")
    echo(validated.format(n=len(report.checked), errors=len(report.errors), warnings=len(report.warnings)))
    _flawed(root, echo)
    if report.errors:
        for p in report.errors:
            echo(f"  {p}")
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
