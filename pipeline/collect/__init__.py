"""Collect: every source in ``sources.yaml`` into the state database; a summary out.

The order of one run:
1. local submission folders (partners' YAML files, checked like ``validate`` does), then the
   partners' progress files (``monitoring/``), whose activities become candidates of the kind
   ``newsletter.monitoring.kind`` (default ``voortgang``),
2. every feed and remote submission URL at once (``fetch``), each result handled as it arrives:
   unchanged bodies are skipped, changed ones parsed (``feeds``, in worker processes when there
   are many) and written in small batches, each batch one transaction with its sources' state,
   written in a thread while the next batch gathers (``writer``).

Deduplication happens on write: an item's id comes from its canonical URL, so the same story
through two sources is one row; a partner's own YAML wins over its feed; an entry whose link
changed keeps its item through its guid; items that went out in an issue are never rewritten.
A progress activity never replaces a story: when its link is a story's link, the story stays the
one item.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

from pipeline.collect.feeds import ParsedFeed, SourceDefaults, ThemeRules, safe_parse
from pipeline.collect.local import activity_url, progress_to_items, submission_to_item
from pipeline.collect.results import SourceResult, Summary
from pipeline.collect.writer import Job, Pending, Writer
from pipeline.domain.config import SUBMISSIONS, Config, FeedSource, submission_source
from pipeline.domain.errors import NotFound, Problem, display_path
from pipeline.domain.i18n import _
from pipeline.domain.models import Item
from pipeline.domain.monitoring import FOLDER as MONITORING_FOLDER
from pipeline.domain.monitoring import ORIGIN as MONITORING
from pipeline.domain.monitoring import Monitoring
from pipeline.domain.monitoring import source_id as monitoring_source
from pipeline.infra.fetch import Fetcher, Limits, Request, is_remote
from pipeline.infra.instance import check_submission_file, read_monitoring, submission_files
from pipeline.infra.store import SourceState, Store

__all__ = [
    "SourceResult", "Summary", "activity_url", "collect", "planned_sources", "progress_to_items",
    "source_ids", "submission_to_item", "theme_rules",
]  # fmt: skip

PARSER_VERSION = "2"  # bump when normalisation changes, so that unchanged feeds are read again once
POOL_THRESHOLD = 16  # feeds in a run before parsing moves to worker processes (their start costs ~50 ms)
PARSE_WINDOW = 16  # bodies at most waiting for (or in) the parse workers


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


def _defaults(config: Config, feed: FeedSource) -> SourceDefaults:
    provinces = feed.provinces
    if not provinces and feed.partner and feed.partner in config.partners:
        provinces = (config.partners[feed.partner].province,)
    return SourceDefaults(feed.id, feed.partner, feed.kind, feed.themes, provinces)


def _jobs(config: Config, only: str | None) -> list[Job]:
    jobs = []
    for feed in config.feeds():
        if only in (None, feed.id):
            # A local path as written (not resolved): a link out of the instance is refused as such.
            url = feed.url if is_remote(feed.url) else str(config.root / feed.url)
            jobs.append(Job(feed.id, url, feed.url, _defaults(config, feed)))
    for sub in config.submissions:
        sid = submission_source(sub.partner)
        if sub.url and sub.partner and only in (None, SUBMISSIONS, sid):
            jobs.append(Job(sid, sub.url, sub.url, SourceDefaults(sid, sub.partner), submission=sub))
    return jobs


def _hash(body: bytes, job: Job, rules: ThemeRules) -> str:
    # The settings that shape the items are part of the hash: editing a source's kind or the
    # keyword rules in sources.yaml reads its (unchanged) feed again.
    h = hashlib.sha256(body)
    keywords = sorted(rules.prefixes.items()), [(t, p.pattern) for t, p in rules.phrases]
    h.update(repr((PARSER_VERSION, job.defaults, keywords)).encode())
    return h.hexdigest()


def _pool(feeds: int) -> Executor | None:
    import multiprocessing  # imported here: a run with few feeds (or none changed) starts no workers
    from concurrent.futures import ProcessPoolExecutor

    cpus = os.cpu_count() or 1
    if feeds < POOL_THRESHOLD or cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    # fork: the workers start in milliseconds with the parser already imported; they touch no
    # database or socket of the parent.
    # The parent's objects, inherited by the workers, are left out of every collection (theirs, and
    # the parent's until ``shutdown``): 300 feeds cold 6.9 -> 6.6 ms of CPU a feed (bench, side by side).
    gc.freeze()
    return ProcessPoolExecutor(max_workers=min(cpus, 4), mp_context=multiprocessing.get_context("fork"))


class _Parser:
    """Parses bodies: in worker processes when the run has many feeds, started when the first body
    needs parsing (a warm run, where every feed is unchanged, starts none)."""

    def __init__(self, feeds: int) -> None:
        self.feeds = feeds
        self.pool: Executor | None = None
        self.started = False

    async def parse(self, *args: Any) -> ParsedFeed | str:
        if not self.started:
            self.started = True
            self.pool = _pool(self.feeds)
        if self.pool is None:
            return safe_parse(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, safe_parse, *args)

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            gc.unfreeze()


def _local_submissions(config: Config, only: str | None, writer: Writer) -> list[Problem]:
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


def _local_monitoring(config: Config, only: str | None, writer: Writer) -> list[Problem]:
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

    ``on_result`` is called as each source finishes (the CLI's progress bar), from the writer's
    thread for the sources written in the background (``Writer``). Raises NotFound for
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
    writer = Writer(store, now, on_result or (lambda r: None))
    problems = _local_submissions(config, only, writer)
    problems += _local_monitoring(config, only, writer)
    jobs = _jobs(config, only)
    try:
        if jobs:
            problems += asyncio.run(_fetch_and_parse(config, jobs, writer, limits, now))
    finally:
        writer.wait()  # the batch written in the background is done before the store is used or closed
    writer.flush()
    return Summary(tuple(writer.results), tuple(problems), time.monotonic() - started)


def _requests(jobs: list[Job], states: Mapping[str, SourceState]) -> list[Request]:
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
    return requests


def _remote_submission(config: Config, p: Pending) -> list[Problem]:
    """A partner's YAML fetched from its address, checked: its item, or the reason it has none."""
    job = p.job
    assert job.submission is not None
    sub, found = check_submission_file(p.fetched.body, config, job.shown_url)
    if sub is None:
        first = next((x for x in found if x.is_error), None)
        p.reason = _("not a valid submission ({problem})").format(
            problem=first.message if first else _("unreadable")
        )
    elif sub.partner != job.submission.partner:
        p.reason = _(
            "the file names partner '{partner}', but sources.yaml gives this address to '{configured}'"
        ).format(partner=sub.partner, configured=job.submission.partner)
    else:
        p.items = (submission_to_item(sub),)
    return found


async def _fetch_and_parse(
    config: Config, jobs: list[Job], writer: Writer, limits: Limits, now: dt.datetime
) -> list[Problem]:
    by_id = {j.id: j for j in jobs}
    states = writer.store.source_states()
    rules = theme_rules(config)
    requests = _requests(jobs, states)
    parser = _Parser(sum(1 for j in jobs if j.submission is None))
    # Parsing tasks are let go when done (3,000 finished tasks are memory too); a failed one is kept, to
    # raise its error at the end, as gathering them all did.
    parsing: set[asyncio.Task[None]] = set()
    failed: list[asyncio.Task[None]] = []
    problems: list[Problem] = []

    def finished(task: asyncio.Task[None]) -> None:
        parsing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failed.append(task)

    # Bodies handed to the parse workers and not yet parsed: bounded, so that memory stays flat however
    # many feeds there are (the fetcher holds a bounded number too, waiting for their turn).
    slots = asyncio.Semaphore(PARSE_WINDOW)

    async def parse(p: Pending) -> None:
        job, f = p.job, p.fetched
        base = f.final_url or job.url
        args = (f.body, base, job.defaults, rules, now, f.content_type, limits.max_bytes)
        if not parser.started:
            # The workers are forked when the first body is parsed: not while the writer's thread
            # holds a lock of the store (a forked child gets the lock, held).
            writer.wait()
        try:
            result = await parser.parse(*args)
        finally:
            slots.release()
        p.fetched = replace(f, body=b"")  # parsed: the body is not needed any more
        if isinstance(result, str):
            p.reason = result
        else:
            p.parsed, p.items, p.warnings = result, result.items, result.warnings
        writer.add(p)

    fetcher = Fetcher(limits, config.root)
    try:
        async for f in fetcher.fetch_each(requests):
            job = by_id[f.key]
            p = Pending(job, f)
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
                    problems += _remote_submission(config, p)
                else:
                    await slots.acquire()
                    task = asyncio.create_task(parse(p))
                    parsing.add(task)
                    task.add_done_callback(finished)
                    continue
            writer.add(p)
        while parsing:
            await asyncio.gather(*parsing, return_exceptions=True)
        for task in failed:
            task.result()
    finally:
        await fetcher.aclose()
        parser.shutdown()
    return problems
