"""Golden comparison: what collect makes of the realistic bench feeds and of every file of the shared corpus
(the items, their sanitised HTML, links, themes, dates and dedup decisions) is exactly what it made before
the speed work of issue 24. The golden file was written by the code before that work:

    GOLDEN_WRITE=1 python -m pytest tests/test_collect_golden.py -p no:cacheprovider

Write it again only for a change that means to change what is collected, and say so in the commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from realistic_feeds import entry, feed
from test_collect import DEMO, NOW, instance, run, stored
from test_collect_corpus import CORPUS, corpus_files

from pipeline.collect import Summary, theme_rules
from pipeline.collect.feeds import ParsedFeed, SourceDefaults, ThemeRules, safe_parse
from pipeline.domain.models import Item
from pipeline.infra.instance import load_config

GOLDEN = Path(__file__).parent / "golden" / "collect.json"
WRITE = os.environ.get("GOLDEN_WRITE") == "1"


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(plain(value), sort_keys=True).encode()).hexdigest()[:20]


def item_record(item: Item, full: bool, server: str = "") -> dict[str, Any]:
    """An item as the golden file keeps it: every field, the HTML itself or (to keep the file small) its
    hash; the local feed server's address (another port each run) written as SERVER."""
    record = plain(item)
    if server:
        record = json.loads(json.dumps(record).replace(server, "SERVER"))
    if not full:
        for name in ("summary_html", "summary_text"):
            record[name] = digest(record[name])
    return record


def parsed_record(result: ParsedFeed | str, full: int = 0) -> dict[str, Any]:
    if isinstance(result, str):
        return {"failed": result}
    return {
        "items": [item_record(item, i < full) for i, item in enumerate(result.items)],
        "warnings": list(result.warnings),
        "skipped": result.skipped,
        "title": result.title,
    }


def compare(section: str, actual: Any) -> None:
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if WRITE:
        golden[section] = actual
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        return
    expected = golden[section]
    if isinstance(expected, dict) and isinstance(actual, dict):
        changed = sorted(k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k))
        assert changed == [], f"{len(changed)} changed in {section}: {changed[:20]}"
    assert actual == expected


def demo_rules() -> ThemeRules:
    return theme_rules(load_config(DEMO))


def test_the_realistic_feeds_parse_as_before():
    rules = demo_rules()
    actual = {}
    for n in range(12):
        defaults = SourceDefaults(
            f"f{n:03d}", "gemeente-zwolle" if n % 2 else None, "story", ("werk",) * (n % 3 == 0)
        )
        result = safe_parse(feed(n), f"https://partner{n}.example.nl/feed.rss", defaults, rules, NOW)
        actual[f"feed{n}"] = parsed_record(result, full=3 if n == 0 else 0)
    compare("realistic", actual)


@pytest.mark.slow
def test_every_corpus_file_parses_as_before():
    rules = ThemeRules.from_keywords(
        {
            "onderwijs": ["school", "leerling"],
            "wonen": ["huur", "energie"],
            "werkende-armen": ["werkende armen"],
        }
    )
    defaults = SourceDefaults("corpus", None, "story")
    actual = {}
    for path in corpus_files():
        result = safe_parse(
            path.read_bytes(), "https://corpus.example.nl/feeds/" + path.name, defaults, rules, NOW
        )
        actual[str(path.relative_to(CORPUS))] = digest(parsed_record(result, full=1000))
    compare("corpus", actual)


def summary_record(summary: Summary) -> list[Any]:
    return sorted(
        [r.source, r.status, r.new, r.updated, r.items, list(r.warnings), r.reason] for r in summary.results
    )


def stored_record(root: Path, server: FeedServer) -> list[dict[str, Any]]:
    with stored(root) as store:
        items = store.items()
    return [item_record(item, False, server.base) for item in sorted(items, key=lambda i: i.id)]


def test_dedup_decisions_through_the_store_as_before(tmp_path: Path, engine: str):
    """Six partners' feeds, a story in a feed and a partner's YAML (the YAML wins), then a second run where
    a feed took another feed's story (another tracking parameter), a link changed under the same guid, an
    entry's text changed, a feed took another feed's link, and one feed is unchanged. (A story in two feeds
    in one run is left out: which of them writes it last depends on which answers first.)"""
    zwolle_story = (
        "<item><title>Fietsplan uit de feed</title>"
        "<link>http://WWW.zwolle.example.nl/nieuws/fietsplan?utm_source=rss&amp;fbclid=abc</link>"
        "<pubDate>Mon, 23 Nov 2026 08:30:00 +0100</pubDate><description>Over school</description></item>"
    )
    shared = entry(2, 0).replace("utm_source=rss", "utm_campaign=nov")
    with FeedServer() as server:
        urls = {
            "gemeente-zwolle": server.route("/zwolle.rss", feed(0, 8, extra=zwolle_story)),
            "p1": server.route("/p1.rss", feed(1, 8)),
            "p2": server.route("/p2.rss", feed(2, 8)),
            "p3": server.route("/p3.rss", feed(3, 8)),
            "p4": server.route("/p4.rss", feed(4, 8)),
            "p5": server.route("/p5.rss", feed(5, 8)),
        }
        root = instance(tmp_path, urls, submissions=[{"path": "submissions"}])
        (root / "submissions").mkdir()
        (root / "submissions" / "fiets.yaml").write_bytes(
            (DEMO / "submissions" / "2026-11-zwolle-fietsplan.yaml").read_bytes()
        )
        first = run(root)
        after_first = stored_record(root, server)
        moved = feed(0, 8, extra=zwolle_story).replace(b"/nieuws/1?", b"/nieuws/een?")
        server.route("/zwolle.rss", moved)
        server.route("/p1.rss", feed(1, 8, extra=shared))  # p2's story, through another link
        server.route("/p3.rss", feed(3, 8).replace(b"verhaal 2 over", b"verhaal 2 (bijgewerkt) over"))
        # p4 takes p5's story 0 link for its story 1: a conflict, the run goes on.
        server.route(
            "/p4.rss", feed(4, 8).replace(b"partner4.example.nl/nieuws/1?", b"partner5.example.nl/nieuws/0?")
        )
        second = run(root)
        after_second = stored_record(root, server)
    compare(
        "dedup",
        {
            "first": summary_record(first),
            "after_first": after_first,
            "second": summary_record(second),
            "after_second": after_second,
        },
    )
