"""Writing the report: one HTML page and the CSV files, from the same ``Report``."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.domain import dutch
from pipeline.domain.config import Config
from pipeline.infra.files import atomic_write, spreadsheet_safe
from pipeline.infra.templating import environment, render_template
from pipeline.report.charts import charts, monitoring_charts
from pipeline.report.formats import number, percent
from pipeline.report.model import ClicksPart, Count, MonitoringPart, PartnerRow, PledgeRow, ReachRow, Report


def _date(value: dt.date | None) -> str:
    return dutch.date(value, weekday=False) if value else ""


def _csv(rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def _count_rows(key: str, rows: Sequence[Count]) -> list[Sequence[object]]:
    return [(key, "naam", "bijdragen", "uitgelicht"), *((r.id, r.title, r.items, r.featured) for r in rows)]


def _partner_csv(rows: Sequence[PartnerRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "sector", "provincie", "lid_sinds", "bijdragen", "uitgelicht",
        "laatste_bijdrage", "nieuwsbrieven", "stil", "maanden_stil", "website",
    )  # fmt: skip
    return [header, *(_partner_fields(r) for r in rows)]


def _partner_fields(r: PartnerRow) -> Sequence[object]:
    quiet = "" if r.quiet_months is None else r.quiet_months
    return (
        r.id, r.name, r.sector, r.province, r.joined or "", r.items, r.featured, r.last_contribution or "",
        " ".join(r.issues), "ja" if r.silent else "nee", quiet, r.website or "",
    )  # fmt: skip


def _reach_csv(key: str, rows: Sequence[ReachRow]) -> list[Sequence[object]]:
    header = (
        key,
        "naam",
        "activiteiten",
        "kinderen",
        "gezinnen",
        "professionals",
        "met_ervaringsdeskundigen",
    )
    return [
        header,
        *((r.id, r.title, r.activities, r.children, r.families, r.professionals, r.ervaringsdeskundigen)
          for r in rows),
    ]  # fmt: skip


def _pledge_csv(rows: Sequence[PledgeRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "sector", "provincie", "toezegging", "toezegging_themas", "toezegging_horizon",
        "toezegging_sinds", "gevraagd", "periodes", "activiteiten", "kinderen", "gezinnen", "professionals",
        "met_ervaringsdeskundigen", "bijdragen", "uitgelicht", "niet_geteld",
    )  # fmt: skip
    return [
        header,
        *((r.id, r.name, r.sector, r.province, spreadsheet_safe(r.pledge), "; ".join(r.pledge_themes),
           r.pledge_horizon or "", r.since or "", "ja" if r.asked else "nee", " ".join(r.periods),
           len(r.activities), r.reach.children, r.reach.families, r.reach.professionals,
           r.ervaringsdeskundigen, r.items, r.featured, " ".join(r.not_counted))
          for r in rows),
    ]  # fmt: skip


def _activity_csv(rows: Sequence[PledgeRow]) -> list[Sequence[object]]:
    header = (
        "partner", "naam", "periode", "titel", "samenvatting", "themas", "horizon", "provincie", "kinderen",
        "gezinnen", "professionals", "ervaringsdeskundigen", "effecten", "url", "uitgelicht", "bestand",
    )  # fmt: skip
    return [
        header,
        *((a.partner, a.partner_name, a.period, spreadsheet_safe(a.title), spreadsheet_safe(a.summary),
           " ".join(a.theme_ids),
           a.horizon_id or "", a.province_id, a.reach.children, a.reach.families, a.reach.professionals,
           "ja" if a.ervaringsdeskundigen else "nee", spreadsheet_safe(a.effects), a.url or "",
           "ja" if a.featured else "nee", a.path)
          for r in rows for a in r.activities),
    ]  # fmt: skip


def _monitoring_csv(m: MonitoringPart) -> dict[str, str]:
    files = {f"monitoring_{b.csv}.csv": _csv(_reach_csv(b.column, rows)) for b, rows in m.breakdowns()}
    return files | {
        "monitoring_partners.csv": _csv(_pledge_csv(m.partners)),
        "monitoring_missing.csv": _csv(_pledge_csv(m.missing)),
        "monitoring_activities.csv": _csv(_activity_csv(m.partners)),
    }


def _clicks_csv(c: ClicksPart) -> dict[str, str]:
    stories = [
        ("nieuwsbrief", "verzonden", "positie", "item", "titel", "partner", "bron", "url", "klikkers",
         "klikken"),
        *((s.issue, i.sent_on, s.position + 1, s.item, spreadsheet_safe(s.title), s.partner or "",
           spreadsheet_safe(s.source), s.url, s.clickers, s.clicks)
          for i in c.issues for s in i.stories),
    ]  # fmt: skip
    partners = [
        ("partner", "naam", "soort", "bijdragen", "uitgelicht", "verhalen", "klikkers", "klikken"),
        *((r.id, spreadsheet_safe(r.name), "partner" if r.partner else "andere bron", r.items, r.featured,
           r.stories, r.clickers, r.clicks)
          for r in c.partners),
    ]  # fmt: skip
    links: list[Sequence[object]] = [("link", "wat", "klikkers", "klikken")]
    links += [(r.link, r.label, r.clickers, r.clicks) for r in c.links]
    return {
        "clicks_stories.csv": _csv(stories),
        "clicks_partners.csv": _csv(partners),
        "clicks_links.csv": _csv(links),
    }


def csv_files(report: Report) -> dict[str, str]:
    """File name -> CSV text. Plain RFC 4180 CSV (comma, CRLF); written with a UTF-8 byte order
    mark so that Excel shows ë and â right."""
    t = report.totals
    summary: list[tuple[str, object]] = [
        ("meting", "waarde"),
        ("van", report.start),
        ("tot_en_met", report.end),
        ("bijdragen_partners", t.partner_items),
        ("items_andere_bronnen", t.other_items),
        ("uitgelicht", t.featured),
        ("nieuwsbrieven_verzonden", t.issues_sent),
        ("partners", t.partners),
        ("actieve_partners", t.active_partners),
        ("met_ervaringsdeskundigen", t.ervaringsdeskundigen),
        ("aandeel_ervaringsdeskundigen", f"{t.ervaringsdeskundigen_share:.4f}"),
        ("stille_partners", len(report.silent)),
        ("nieuwe_partners", len(report.new)),
        ("stil_na_maanden", report.silent_after),
    ]
    m = report.monitoring
    if m is not None:
        mt = m.totals
        summary += [
            ("voortgang_periodes", " ".join(m.periods)),
            ("voortgang_bestanden", mt.files),
            ("voortgang_partners", mt.partners),
            ("voortgang_gerapporteerd", mt.reported),
            ("voortgang_nog_niet", len(m.missing)),
            ("activiteiten", mt.activities),
            ("kinderen", mt.reach.children),
            ("gezinnen", mt.reach.families),
            ("professionals", mt.reach.professionals),
            ("activiteiten_met_ervaringsdeskundigen", mt.ervaringsdeskundigen),
            ("aandeel_activiteiten_met_ervaringsdeskundigen", f"{mt.ervaringsdeskundigen_share:.4f}"),
            ("activiteiten_uitgelicht", mt.featured),
            ("voortgang_niet_geteld", len(m.not_counted)),
        ]
    c = report.clicks
    if c is not None:
        summary += [
            ("lezers_die_klikten", c.clickers),
            ("klikken", c.clicks),
            ("klikken_op_verhalen", c.story_clicks),
            ("klikken_op_andere_links", c.other_clicks),
            ("verhalen_verstuurd", c.stories),
            ("verhalen_aangeklikt", c.stories_clicked),
        ]
    months = [
        ("maand", "van_partners", "andere_bronnen", "verzameld", "uitgelicht"),
        *((m.first_day.strftime("%Y-%m"), m.partner_items, m.other_items, m.collected, m.featured)
          for m in report.months),
    ]  # fmt: skip
    files = {
        "summary.csv": _csv(summary),
        "months.csv": _csv(months),
        **{f"{b.csv}.csv": _csv(_count_rows(b.column, rows)) for b, rows in report.breakdowns()},
        "partners.csv": _csv(_partner_csv(report.partners)),
        "silent.csv": _csv(_partner_csv(report.silent)),
        "new.csv": _csv(_partner_csv(report.new)),
    }
    if m is not None:
        files.update(_monitoring_csv(m))
    if c is not None:
        files.update(_clicks_csv(c))
    return files


LINK_ROWS = 10  # the page shows the most clicked other links; clicks_links.csv has them all


def render_html(config: Config, report: Report) -> str:
    # The stages' one environment (instance templates first, errors with their line); an overlay
    # so that the report's filters stay out of the cached one the email and the archive use.
    env = environment(config.root / "templates").overlay()
    env.filters = {**env.filters, "number": number, "percent": percent, "date": _date, "month": dutch.month}
    return render_template(
        env,
        "report/index.html.j2",
        config.root,
        report=report,
        t=report.totals,
        charts=charts(report),
        m=report.monitoring,
        mcharts=monitoring_charts(report.monitoring) if report.monitoring else {},
        csv_names=sorted(csv_files(report)),
        c=report.clicks,
        link_rows=LINK_ROWS,
    )


def write_report(config: Config, report: Report, out: Path) -> list[Path]:
    """Write ``out/index.html`` and ``out/*.csv``; return the paths written, the page first."""
    page = out / "index.html"
    atomic_write(page, render_html(config, report))
    written = [page]
    for name, text in csv_files(report).items():
        atomic_write(out / name, text, encoding="utf-8-sig")
        written.append(out / name)
    return written
