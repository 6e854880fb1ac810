"""Local sources as items: a partner's checked YAML submission, and the activities of a progress file."""

from __future__ import annotations

import datetime as dt
import html

from pipeline.collect.feeds import item_id_for_url
from pipeline.domain.archive import partner_page_url
from pipeline.domain.config import Config, submission_source
from pipeline.domain.markup import markdown_to_html, plain_text, plain_title
from pipeline.domain.models import Item, Submission
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.domain.monitoring import Activity, Progress, activity_id, slug
from pipeline.domain.monitoring import source_id as monitoring_source
from pipeline.domain.urls import canonical_url


def submission_to_item(sub: Submission) -> Item:
    """A checked YAML submission as an item; its canonical URL matches the same story in a feed."""
    url = canonical_url(sub.url) or sub.url
    summary_html = markdown_to_html(sub.summary, sub.url)
    return Item(
        id=item_id_for_url(url),
        url=url,
        title=plain_title(sub.title),
        summary_html=summary_html,
        summary_text=plain_text(summary_html),
        published=sub.published,
        source=submission_source(sub.partner),
        partner=sub.partner,
        kind=sub.kind,
        themes=sub.themes,
        provinces=sub.provinces,
        image=sub.image,
        starts=sub.starts,
        ends=sub.ends,
        location=sub.location,
        ervaringsdeskundigen=sub.ervaringsdeskundigen,
        horizon=sub.horizon,
        origin="submission",
        guid=sub.path,
    )


def activity_url(config: Config, progress: Progress, activity: Activity) -> str:
    """The link of an activity's item: its own ``url``; without one, the partner's kennisbank page in
    the archive (publish makes one for every partner) with a fragment naming the activity, which that
    page gives the activity once it went out: every activity has a link a reader can follow and a URL
    of its own in the state database."""
    if activity.url:
        return canonical_url(activity.url) or activity.url
    base = partner_page_url(config.settings.archive_url, progress.partner)
    return f"{base}#" + f"voortgang-{progress.period}-{slug(activity.title)}".lower()


def _reach_sentence(progress: Progress, activity: Activity) -> str:
    parts = [
        f"{n:,} {word}".replace(",", ".")
        for n, word in (
            (activity.reach.children, "kinderen"),
            (activity.reach.families, "gezinnen"),
            (activity.reach.professionals, "professionals"),
        )
        if n
    ]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]
    return f"Bereikt in {progress.period.title}: {listed}."


def progress_to_items(config: Config, progress: Progress, now: dt.datetime) -> list[Item]:
    """A checked progress file's activities as newsletter candidates, in the partner's own words:
    the summary, then what it brought about (``effects``) and whom it reached. They are dated when
    first collected (a progress file has no publication date); collecting again keeps that date."""
    # In the store's own precision (whole seconds, UTC), so that collecting again finds it unchanged.
    when = now.astimezone(dt.UTC).replace(microsecond=0)
    items = []
    for activity in progress.activities:
        paragraphs = [activity.summary]
        if activity.effects:
            paragraphs.append(f"Wat het opleverde: {activity.effects}")
        if sentence := _reach_sentence(progress, activity):
            paragraphs.append(sentence)
        summary_html = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
        items.append(
            Item(
                id=activity_id(progress.partner, progress.period, activity.title),
                url=activity_url(config, progress, activity),
                title=plain_title(activity.title),
                summary_html=summary_html,
                summary_text=plain_text(summary_html),
                published=when,
                source=monitoring_source(progress.partner),
                partner=progress.partner,
                kind=config.settings.monitoring.kind,
                themes=activity.themes,
                provinces=(activity.province,),
                ervaringsdeskundigen=activity.ervaringsdeskundigen,
                horizon=activity.horizon,
                origin=MONITORING,
                guid=f"{progress.path}:{activity.line or 0}",
            )
        )
    return items
