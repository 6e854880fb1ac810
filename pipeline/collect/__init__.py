"""Collect: every source in ``sources.yaml`` into the state database; a summary out.

The order of one run:
1. local submission folders (partners' YAML files, checked like ``validate`` does), then the
   partners' progress files (``monitoring/``), whose activities become candidates of the kind
   ``newsletter.monitoring.kind`` (default ``voortgang``),
2. every feed and remote submission URL at once (``fetch``), each result handled as it arrives:
   unchanged bodies are skipped, changed ones parsed (``feeds``, in worker processes when there
   are many) and written in small batches, each batch one transaction with its sources' state.

Deduplication happens on write: an item's id comes from its canonical URL, so the same story
through two sources is one row; a partner's own YAML wins over its feed; an entry whose link
changed keeps its item through its guid; items that went out in an issue are never rewritten.
A progress activity never replaces a story: when its link is a story's link, the story stays the
one item.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from pipeline.collect.feeds import (
    ParsedFeed,
    SourceDefaults,
    ThemeRules,
    canonical_url,
    content_hash,
    item_id_for_url,
    safe_parse,
)
from pipeline.domain.archive import partner_page_url
from pipeline.domain.config import SUBMISSIONS, Config, FeedSource, SubmissionSource, submission_source
from pipeline.domain.errors import NotFound, Problem, display_path
from pipeline.domain.i18n import _, ngettext
from pipeline.domain.markup import markdown_to_html, plain_text, plain_title
from pipeline.domain.models import Item, Submission
from pipeline.domain.monitoring import FOLDER as MONITORING_FOLDER
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.domain.monitoring import Activity, Monitoring, Progress, activity_id, slug
from pipeline.domain.monitoring import source_id as monitoring_source
from pipeline.infra.fetch import Fetched, Fetcher, Limits, Request, is_remote
from pipeline.infra.instance import check_submission_file, read_monitoring, submission_files
from pipeline.infra.store import KnownItem, Store

PARSER_VERSION = "1"  # bump when normalisation changes, so that unchanged feeds are read again once
POOL_THRESHOLD = 16  # feeds in a run before parsing moves to worker processes (their start costs ~50 ms)
BATCH_SECONDS = 1.0  # how long parsed sources wait to be written together: each commit is an fsync


@dataclass(frozen=True)
class SourceResult:
    """What happened to one source in this run."""

    source: str
    url: str
    status: str  # "fetched", "unchanged" or "failed"
    reason: str | None = None  # why it failed, in plain words
    new: int = 0
    updated: int = 0
    items: int = 0  # entries read from the body (0 when unchanged)
    warnings: tuple[str, ...] = ()
    moved_to: str | None = None  # a permanent redirect: the address to put in sources.yaml


@dataclass(frozen=True)
class Summary:
    results: tuple[SourceResult, ...]
    problems: tuple[Problem, ...] = ()  # submission files that were skipped (or only warned about)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def bad_files(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def partial(self) -> bool:
        """Some sources (or submission files) could not be read: exit status 3."""
        return bool(self.failed or self.bad_files)

    def line(self) -> str:
        """The one-line summary the CLI and the demo print."""
        n = len(self.results)
        parts = [
            ngettext(
                "{n} source: {fetched} fetched, {unchanged} unchanged, {failed} failed",
                "{n} sources: {fetched} fetched, {unchanged} unchanged, {failed} failed",
                n,
            ).format(
                n=n,
                fetched=self.count("fetched"),
                unchanged=self.count("unchanged"),
                failed=self.count("failed"),
            ),
            ngettext("{n} new item, {updated} updated", "{n} new items, {updated} updated", self.new).format(
                n=self.new, updated=self.updated
            ),
        ]
        paths = {p.path for p in self.bad_files}
        progress = sum(1 for p in paths if p.startswith(f"{MONITORING_FOLDER}/"))
        if submissions := len(paths) - progress:
            parts.append(
                ngettext("{n} submission file skipped", "{n} submission files skipped", submissions).format(
                    n=submissions
                )
            )
        if progress:
            parts.append(
                ngettext("{n} progress file skipped", "{n} progress files skipped", progress).format(
                    n=progress
                )
            )
        return "; ".join(parts) + f" ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class _Job:
    """One thing to fetch: a feed, or a partner's remote YAML submission."""

    id: str
    url: str  # as fetched: http(s), or an absolute local path
    shown_url: str  # as written in sources.yaml
    defaults: SourceDefaults
    submission: SubmissionSource | None = None


@dataclass
class _Pending:
    job: _Job
    fetched: Fetched
    body_hash: str | None = None
    parsed: ParsedFeed | None = None
    items: tuple[Item, ...] = ()
    reason: str | None = None
    warnings: tuple[str, ...] = ()


def source_ids(config: Config) -> list[str]:
    """Every id ``--source`` accepts."""
    ids = [f.id for f in config.feeds()]
    if config.submissions:
        ids += [SUBMISSIONS, *(submission_source(p) for p in config.partners)]
    if _has_monitoring(config):
        ids += [MONITORING, *(monitoring_source(p) for p in config.partners)]
    return ids


def _has_monitoring(config: Config) -> bool:
    return (config.root / MONITORING_FOLDER).is_dir()


def _wants_monitoring(only: str | None) -> bool:
    return only is None or only.split(":")[0] == MONITORING


def planned_sources(config: Config, only: str | None = None) -> int:
    """How many results a run will report (for a progress bar)."""
    local = sum(1 for s in config.submissions if s.path is not None)
    if only is not None and only.split(":")[0] != SUBMISSIONS:
        local = 0
    progress = 1 if _has_monitoring(config) and _wants_monitoring(only) else 0
    return local + progress + len(_jobs(config, only))


def theme_rules(config: Config) -> ThemeRules:
    keywords = {t.id: t.keywords for t in config.taxonomy.themes.values()}
    return ThemeRules.from_keywords(keywords)


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


def _defaults(config: Config, feed: FeedSource) -> SourceDefaults:
    provinces = feed.provinces
    if not provinces and feed.partner and feed.partner in config.partners:
        provinces = (config.partners[feed.partner].province,)
    return SourceDefaults(feed.id, feed.partner, feed.kind, feed.themes, provinces)


def _jobs(config: Config, only: str | None) -> list[_Job]:
    jobs = []
    for feed in config.feeds():
        if only in (None, feed.id):
            # A local path as written (not resolved): a link out of the instance is refused as such.
            url = feed.url if is_remote(feed.url) else str(config.root / feed.url)
            jobs.append(_Job(feed.id, url, feed.url, _defaults(config, feed)))
    for sub in config.submissions:
        sid = submission_source(sub.partner)
        if sub.url and sub.partner and only in (None, SUBMISSIONS, sid):
            jobs.append(_Job(sid, sub.url, sub.url, SourceDefaults(sid, sub.partner), submission=sub))
    return jobs


def _hash(body: bytes, job: _Job, rules: ThemeRules) -> str:
    # The settings that shape the items are part of the hash: editing a source's kind or the
    # keyword rules in sources.yaml reads its (unchanged) feed again.
    h = hashlib.sha256(body)
    keywords = sorted(rules.prefixes.items()), [(t, p.pattern) for t, p in rules.phrases]
    h.update(repr((PARSER_VERSION, job.defaults, keywords)).encode())
    return h.hexdigest()


def _unstored(e: Exception) -> str:
    why = f"{type(e).__name__}: {e}"
    return _(
        "its items could not be stored ({error}); the other sources' were, and it is read again next run"
    ).format(error=why)


class _Writer:
    """Writes results in batches: one transaction per batch, items and source state together.

    When a batch fails (a damaged row, a full disk, a trigger), it is rolled back and each of its
    sources is written in a transaction of its own, so that one source's failed write never loses
    another source's items; the failing one is reported failed, with the reason.
    """

    def __init__(self, store: Store, now: dt.datetime, on_result: Callable[[SourceResult], None]) -> None:
        self.store = store
        self.now = now
        self.on_result = on_result
        self.sent = store.sent_item_ids()
        self.pending: list[_Pending] = []
        self.results: list[SourceResult] = []
        self.last_flush = time.monotonic()

    def add(self, p: _Pending) -> None:
        self.pending.append(p)
        if time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        try:
            with self.store.transaction():
                done = [self._write(p) for p in batch]
        except Exception:  # any kind of failure: find the source it belongs to
            done = [self._write_alone(p) for p in batch]
        for r in done:
            self.results.append(r)
            self.on_result(r)

    def write_local(self, source: str, shown: str, items: list[Item]) -> None:
        """Write the items of a local source (submissions, progress files) in a transaction of
        their own; a failed write is reported, as for feeds, and the other sources still collected."""
        try:
            with self.store.transaction():
                new, updated = self.write_items(items)
        except Exception as e:
            result = SourceResult(source, shown, "failed", _unstored(e), items=len(items))
        else:
            status = "fetched" if new or updated else "unchanged"
            result = SourceResult(source, shown, status, None, new, updated, len(items))
        self.results.append(result)
        self.on_result(result)

    def _write_alone(self, p: _Pending) -> SourceResult:
        try:
            with self.store.transaction():
                return self._write(p)
        except Exception as e:
            reason = _unstored(e)
            self.failed_state(p.job.id, p.job.shown_url, reason)
            return SourceResult(p.job.id, p.job.shown_url, "failed", reason)

    def failed_state(self, source: str, url: str, reason: str) -> None:
        """Record the failure for the editors (best effort: the database may be what fails)."""
        now = self.now.astimezone(dt.UTC).isoformat(timespec="seconds")
        try:
            with self.store.transaction():
                self.store.save_source_state(
                    source, url=url, last_fetched=now, last_status="failed", last_error=reason
                )
        except Exception:
            pass

    def write_items(self, items: Iterable[Item]) -> tuple[int, int]:
        """Store items (inside a transaction); return (new, updated)."""
        items = list(items)
        existing = self.store.known_items(i.id for i in items)
        guids: dict[str, dict[str, str]] = {}
        new = updated = 0
        # Items decided on are written together (on PostgreSQL in a few round trips, not four an
        # item), before anything that must see them: a read of the store, or an item with their id.
        run: dict[str, Item] = {}

        def write() -> None:
            nonlocal new, updated
            outcomes = self.store.put_items([(i, content_hash(i)) for i in run.values()], self.now)
            for item, outcome in zip(run.values(), outcomes, strict=True):
                if outcome == "conflict":
                    continue
                new += outcome == "new"
                updated += outcome == "updated"
                existing[item.id] = KnownItem(
                    item.id, item.origin, item.source, item.guid, item.published, item.first_seen or self.now
                )
            run.clear()

        for item in items:
            if item.id in run:
                write()
            found = existing.get(item.id)
            if found is None and item.origin == "feed" and item.guid:
                # Same guid within a source, but the link changed: still the same story.
                if item.source not in guids:
                    write()
                    guids[item.source] = self.store.item_ids_by_guid(item.source)
                earlier = guids[item.source].get(item.guid)
                if earlier:
                    item = replace(item, id=earlier)
                    write()
                    found = self.store.known_items([earlier]).get(earlier)
            if found:
                if item.origin == "feed" and found.origin == "submission":
                    continue  # the partner's own YAML wins over its feed
                if item.origin == MONITORING and found.origin != MONITORING:
                    continue  # a story with this activity's link: the story is the item
                if item.origin == MONITORING:
                    item = replace(item, published=found.published)  # dated when first collected
                if item.id in self.sent:
                    continue  # it went out in an issue: keep it exactly as it was sent
                if "date-missing" in item.flags or "date-clamped" in item.flags:
                    item = replace(item, published=found.published)  # keep the date it was first given
            run[item.id] = replace(item, first_seen=item.first_seen or self.now)
        write()
        return new, updated

    def _write(self, p: _Pending) -> SourceResult:
        job, f = p.job, p.fetched
        now = self.now.astimezone(dt.UTC).isoformat(timespec="seconds")
        state: dict[str, Any] = {"url": job.shown_url, "last_fetched": now}
        status = "failed" if p.reason else f.status
        new = updated = 0
        if status == "failed":
            state.update(last_status="failed", last_error=p.reason)
        else:
            if p.items:
                new, updated = self.write_items(p.items)
            state.update(
                etag=f.etag, last_modified=f.last_modified, last_ok=now, last_status=status, last_error=None
            )
            if p.body_hash:
                state.update(body_hash=p.body_hash, items_seen=len(p.items))
        state["permanent_redirect"] = f.permanent_redirect
        self.store.save_source_state(job.id, **state)
        return SourceResult(
            job.id,
            job.shown_url,
            status,
            p.reason,
            new,
            updated,
            len(p.items),
            p.warnings,
            f.permanent_redirect,
        )


def _pool(feeds: int) -> Executor | None:
    cpus = os.cpu_count() or 1
    if feeds < POOL_THRESHOLD or cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    # fork: the workers start in milliseconds with the parser already imported; they touch no
    # database or socket of the parent.
    return ProcessPoolExecutor(max_workers=min(cpus, 4), mp_context=multiprocessing.get_context("fork"))


def _local_submissions(config: Config, only: str | None, writer: _Writer) -> list[Problem]:
    problems: list[Problem] = []
    for source in config.submissions:
        if source.path is None or not (only is None or only.split(":")[0] == SUBMISSIONS):
            continue
        items = []
        for path in submission_files(source.path):
            sub, found = check_submission_file(path, config, display_path(path, config.root))
            if sub is not None and only not in (None, SUBMISSIONS, submission_source(sub.partner)):
                continue
            problems.extend(found)
            if sub is not None:
                items.append(submission_to_item(sub))
        shown = display_path(source.path, config.root)
        writer.write_local(submission_source(shown), shown, items)
    return problems


def _local_monitoring(config: Config, only: str | None, writer: _Writer) -> list[Problem]:
    """The progress files: each valid one's activities as items (an invalid file is skipped and
    reported, as a submission is)."""
    if not (_has_monitoring(config) and _wants_monitoring(only)):
        return []
    monitoring = read_monitoring(config)
    wanted = None if only in (None, MONITORING) else (only or "").split(":", 1)[1]
    items: dict[str, Item] = {}
    for progress in monitoring.reports:
        if wanted is None or progress.partner == wanted:
            for item in progress_to_items(config, progress, writer.now):
                items.setdefault(item.id, item)
    problems = [p for p in monitoring.problems if wanted is None or p.path in _paths_of(monitoring, wanted)]
    writer.write_local(MONITORING, MONITORING_FOLDER + "/", list(items.values()))
    return problems


def _paths_of(monitoring: Monitoring, partner: str) -> set[str]:
    return {r.path for r in monitoring.reports if r.partner == partner} | {
        b.path for b in monitoring.broken if b.partner == partner
    }


def collect(
    config: Config,
    store: Store,
    *,
    only: str | None = None,
    on_result: Callable[[SourceResult], None] | None = None,
    now: dt.datetime | None = None,
    limits: Limits | None = None,
) -> Summary:
    """Collect every source (or only the one with id ``only``) into ``store``.

    ``on_result`` is called as each source finishes (the CLI's progress bar). Raises NotFound for
    an unknown ``only``; every other problem is in the summary.
    """
    started = time.monotonic()
    if only is not None and only not in source_ids(config):
        feeds = ", ".join(f.id for f in config.feeds())
        raise NotFound(
            _("no source '{source}' in sources.yaml").format(source=only),
            _(
                "use a feed id ({feeds}), 'submissions', 'submissions:PARTNER', 'monitoring' or "
                "'monitoring:PARTNER'"
            ).format(feeds=feeds),
        )
    now = now or dt.datetime.now(dt.UTC)
    limits = limits or config.settings.collect
    writer = _Writer(store, now, on_result or (lambda r: None))
    problems = _local_submissions(config, only, writer)
    problems += _local_monitoring(config, only, writer)
    jobs = _jobs(config, only)
    if jobs:
        problems += asyncio.run(_fetch_and_parse(config, jobs, writer, limits, now))
    writer.flush()
    return Summary(tuple(writer.results), tuple(problems), time.monotonic() - started)


async def _fetch_and_parse(
    config: Config, jobs: list[_Job], writer: _Writer, limits: Limits, now: dt.datetime
) -> list[Problem]:
    by_id = {j.id: j for j in jobs}
    states = writer.store.source_states()
    rules = theme_rules(config)
    requests = []
    for job in jobs:
        state = states.get(job.id)
        # A new address starts without validators.
        known = state if state is not None and state.url == job.shown_url else None
        requests.append(
            Request(
                job.id,
                job.url,
                etag=known.etag if known else None,
                last_modified=known.last_modified if known else None,
            )
        )
    loop = asyncio.get_running_loop()
    pool = _pool(sum(1 for j in jobs if j.submission is None))
    parsing: list[asyncio.Future[None]] = []
    problems: list[Problem] = []

    async def parse(p: _Pending) -> None:
        job, f = p.job, p.fetched
        base = f.final_url or job.url
        args = (f.body, base, job.defaults, rules, now, f.content_type, limits.max_bytes)
        result = await loop.run_in_executor(pool, safe_parse, *args) if pool else safe_parse(*args)
        if isinstance(result, str):
            p.reason = result
        else:
            p.parsed, p.items, p.warnings = result, result.items, result.warnings
        writer.add(p)

    fetcher = Fetcher(limits, config.root)
    try:
        async for f in fetcher.fetch_each(requests):
            job = by_id[f.key]
            p = _Pending(job, f)
            if f.status == "failed":
                p.reason = f.error
            elif f.status == "fetched":
                p.body_hash = _hash(f.body, job, rules)
                before = states.get(job.id)
                if before is not None and p.body_hash == before.body_hash:
                    # The server sent it again, but nothing changed: nothing to parse.
                    p.fetched = replace(f, status="unchanged", body=b"")
                    p.body_hash = None
                elif job.submission is not None:
                    sub, found = check_submission_file(f.body, config, job.shown_url)
                    problems.extend(found)
                    if sub is None:
                        first = next((x for x in found if x.is_error), None)
                        p.reason = _("not a valid submission ({problem})").format(
                            problem=first.message if first else _("unreadable")
                        )
                    elif sub.partner != job.submission.partner:
                        p.reason = _(
                            "the file names partner '{partner}', but sources.yaml gives this address to "
                            "'{configured}'"
                        ).format(partner=sub.partner, configured=job.submission.partner)
                    else:
                        p.items = (submission_to_item(sub),)
                else:
                    parsing.append(asyncio.ensure_future(parse(p)))
                    continue
            writer.add(p)
        if parsing:
            await asyncio.gather(*parsing)
    finally:
        await fetcher.aclose()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return problems
