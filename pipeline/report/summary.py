"""The headline numbers and the call list as lines for the terminal."""

from __future__ import annotations

from pipeline.domain.i18n import _, ngettext
from pipeline.report.formats import percent
from pipeline.report.model import ClicksPart, MonitoringPart, Report, Totals


def summary_lines(report: Report) -> list[str]:
    """The headline numbers and the call list in the terminal's language, for the command and the
    demo to print (each line indented by two spaces)."""
    lines = [_headline(report.totals), _call_list(report)]
    if report.new:
        lines.append(_("New partners: {names}").format(names=", ".join(r.name for r in report.new)))
    if report.monitoring is not None:
        lines += _progress(report.monitoring)
    if report.clicks is not None:
        lines.append(_clicks(report.clicks, report.totals))
    return [f"  {line}" for line in lines]


def _headline(t: Totals) -> str:
    """The items, the partners that wrote them, what was featured, and the issues sent."""
    items = ngettext("{n} item", "{n} items", t.partner_items).format(n=t.partner_items)
    partners = ngettext("{active} of {n} partner", "{active} of {n} partners", t.partners).format(
        active=t.active_partners, n=t.partners
    )
    issues = ngettext("{n} issue sent in the period", "{n} issues sent in the period", t.issues_sent).format(
        n=t.issues_sent
    )
    return _(
        "{items} from {partners} ({other} from other sources); {featured} featured in sent issues; {issues}"
    ).format(items=items, partners=partners, other=t.other_items, featured=t.featured, issues=issues)


def _call_list(report: Report) -> str:
    names = ", ".join(r.name for r in report.silent)
    months = report.silent_after
    if names:
        call = ngettext(
            "Call list (silent for more than {months} month): {n}: {names}",
            "Call list (silent for more than {months} months): {n}: {names}",
            months,
        )
    else:
        call = ngettext(
            "Call list (silent for more than {months} month): {n}",
            "Call list (silent for more than {months} months): {n}",
            months,
        )
    return call.format(months=months, n=len(report.silent), names=names)


def _progress(m: MonitoringPart) -> list[str]:
    """The progress on the pledges, who has not reported yet, and the files not counted."""
    mt = m.totals
    # NOTE: the count is of the partners who reported (the verb agrees with it in Dutch).
    reported = ngettext(
        "{reported} of {n} partners reported {activities}",
        "{reported} of {n} partners reported {activities}",
        mt.reported,
    ).format(
        reported=mt.reported,
        n=mt.partners,
        activities=ngettext("{n} activity", "{n} activities", mt.activities).format(n=mt.activities),
    )
    progress = _(
        "{reported}, reaching {children} children, {families} families and {professionals} professionals;"
        " {n} with ervaringsdeskundigen ({share})"
    ).format(
        reported=reported,
        children=mt.reach.children,
        families=mt.reach.families,
        professionals=mt.reach.professionals,
        n=mt.ervaringsdeskundigen,
        share=percent(mt.ervaringsdeskundigen_share),
    )
    lines = []
    if m.periods:
        lines.append(
            _("Progress on pledges (counted: {periods}): {progress}").format(
                periods=", ".join(m.periods), progress=progress
            )
        )
    else:
        lines.append(
            _("Progress on pledges (no progress file counts in the period): {progress}").format(
                progress=progress
            )
        )
    names = ", ".join(r.name for r in m.missing)
    if names:
        lines.append(_("No progress reported yet: {n}: {names}").format(n=len(m.missing), names=names))
    else:
        lines.append(_("No progress reported yet: {n}").format(n=len(m.missing)))
    if m.not_counted:
        lines.append(
            _("Not counted, with errors (run 'newsletter validate'): {files}").format(
                files=", ".join(m.not_counted)
            )
        )
    return lines


def _clicks(c: ClicksPart, t: Totals) -> str:
    """The readers who clicked, on what, and the most read partner or source."""
    clicks = ngettext(
        "{n} reader clicked; {clicks} on {stories}, {other} on other links",
        "{n} readers clicked; {clicks} on {stories}, {other} on other links",
        c.clickers,
    ).format(
        n=c.clickers,
        clicks=ngettext("{n} click", "{n} clicks", c.story_clicks).format(n=c.story_clicks),
        stories=ngettext("{clicked} of {n} story", "{clicked} of {n} stories", c.stories).format(
            clicked=c.stories_clicked, n=c.stories
        ),
        other=c.other_clicks,
    )
    sent = ngettext(
        "the {n} issue sent in the period", "the {n} issues sent in the period", t.issues_sent
    ).format(n=t.issues_sent)
    top = next((r for r in c.partners if r.clickers), None)
    if top:
        readers = ngettext("{n} reader", "{n} readers", top.clickers).format(n=top.clickers)
        return _("Clicks (on {issues}): {clicks}; most read: {name} ({readers})").format(
            issues=sent, clicks=clicks, name=top.name, readers=readers
        )
    return _("Clicks (on {issues}): {clicks}").format(issues=sent, clicks=clicks)
