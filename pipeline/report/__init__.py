"""Report ("Partners in beeld"): what partners contributed in a period, for the coordinator.

The order is fixed: ``build_report`` reads the config and the state database and works out every
number once, into a frozen ``Report``; ``write_report`` lays that one value out as a single
self-contained HTML page (inline SVG charts, no scripts, nothing fetched) and as CSV files. Both
outputs are written from the same ``Report``, so the page and the spreadsheets cannot disagree.

The modules: ``model`` (the values), ``compute`` (the period, the breakdowns, the partners and
``build_report``), ``clicks`` and ``monitoring`` (those two parts of the report), ``summary`` (the
lines the command prints), ``charts`` (pygal), ``formats`` (Dutch numbers) and ``output`` (the page
and the CSV files).

What counts (docs/report.md says the same for users):
- an item is in the period when its ``published`` date, in the instance's time zone, is;
- "featured" means the item appeared in an issue sent to the list (at any time up to now);
- breakdowns (sector, province, theme, kind, horizon, ervaringsdeskundigen) count partners' items;
  items from other sources (research institutes) appear only in the monthly totals;
- a partner is silent when their last item (or, with none, the day they joined) is more than
  ``report.silent_months`` months before the end of the period;
- the monitoring (partners' progress on their pledge, ``monitoring/``) counts a progress file when
  the middle day of its period falls in the report's period (``pipeline.domain.monitoring``), and
  counts each activity once in every view (its first theme, its horizon, its partner's sector, its
  province), so that every view adds up to the same totals. Activities are not contributions to
  the newsletter: the candidates collect makes of them stay out of the counts above;
- what readers did: the clicks on the issues sent in the period (SendGrid's click events, kept by
  the event webhook), whenever they came, so that reports that follow each other count each click
  once. A click belongs to a story when its link, without utm_* and tracking parameters, is the
  story's URL; the rest (the web version, a partner's website) are "other links". A partner's
  readers are the unique clickers of each of its stories, added up. Opens are not counted: mail
  apps open mail by themselves (Apple's Mail Privacy Protection), so an open says nothing.
"""

from pipeline.report.charts import Chart, charts, clicks_chart, monitoring_charts
from pipeline.report.compute import add_months, build_report, default_period, months_between
from pipeline.report.formats import number, percent
from pipeline.report.model import (
    UNKNOWN,
    ActivityRow,
    ClicksPart,
    Count,
    IssueClicks,
    LinkClicks,
    MonitoringPart,
    MonitoringTotals,
    Month,
    PartnerClicks,
    PartnerRow,
    PledgeRow,
    ReachRow,
    Report,
    ReportError,
    StoryClicks,
    Totals,
)
from pipeline.report.output import csv_files, render_html, write_report
from pipeline.report.summary import summary_lines

__all__ = [
    "UNKNOWN",
    "ActivityRow",
    "Chart",
    "ClicksPart",
    "Count",
    "IssueClicks",
    "LinkClicks",
    "MonitoringPart",
    "MonitoringTotals",
    "Month",
    "PartnerClicks",
    "PartnerRow",
    "PledgeRow",
    "ReachRow",
    "Report",
    "ReportError",
    "StoryClicks",
    "Totals",
    "add_months",
    "build_report",
    "charts",
    "clicks_chart",
    "csv_files",
    "default_period",
    "monitoring_charts",
    "months_between",
    "number",
    "percent",
    "render_html",
    "summary_lines",
    "write_report",
]
