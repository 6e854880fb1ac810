"""Every feed in ../shared/corpus/feeds (real feeds and feedparser's own tests): never a crash, nothing unsafe."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from feedserver import FeedServer
from test_collect_feeds import unsafe_parts

from pipeline.collect import collect
from pipeline.collect.feeds import SourceDefaults, ThemeRules, safe_parse
from pipeline.infra.fetch import Limits
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DEMO = Path(__file__).resolve().parents[1] / "pipeline" / "demo_instance"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent: the shared feed corpus is there for developers and CI only")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".txt", ".tsv", ".md", ""))


@pytest.mark.slow
def test_every_corpus_file_parses_without_a_crash_and_stores_nothing_unsafe():
    files = corpus_files()
    assert len(files) > 2000
    defaults = SourceDefaults("corpus", None, "story")
    rules = ThemeRules.from_keywords({"onderwijs": ["school"]})
    items = failures = 0
    crashes, unsafe = [], []
    for path in files:
        result = safe_parse(
            path.read_bytes(), "https://corpus.example.nl/feeds/" + path.name, defaults, rules, NOW
        )
        if isinstance(result, str):
            failures += 1
            if result.startswith("could not read the feed"):  # an exception we did not expect
                crashes.append(f"{path.relative_to(CORPUS)}: {result}")
            continue
        for item in result.items:
            items += 1
            assert item.published.tzinfo is not None
            assert item.published <= NOW + dt.timedelta(days=1)
            found = unsafe_parts(item)
            if found:
                unsafe.append(f"{path.relative_to(CORPUS)}: {found[:3]}")
    assert crashes == []
    assert unsafe == []
    assert items > 2000  # most files are feeds with entries


def test_real_corpus_feeds_through_the_real_fetch_path(tmp_path: Path):
    """Real feeds served over HTTP (the hard ones: gzip without a header, UTF-16, HTML, empty, huge)."""
    real = [p for p in corpus_files() if p.parent.name == "real"]
    root = tmp_path / "instance"
    root.mkdir()
    config = yaml.safe_load((DEMO / "sources.yaml").read_text())
    with FeedServer() as server:
        sources = []
        for i, path in enumerate(real):
            server.route(f"/{path.name}", path.read_bytes(), content_type=None)
            sources.append(
                {"id": f"f{i}", "name": path.name, "url": server.url(f"/{path.name}"), "kind": "story"}
            )
        config.update(
            partners=[p for p in config["partners"] if not p.get("feeds")], sources=sources, submissions=[]
        )
        (root / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
        loaded = load_config(root)
        with Store(loaded.settings.state) as store:
            summary = collect(
                loaded, store, now=NOW, limits=Limits(timeout=20, retries=0, allow_private_addresses=True)
            )
            all_items = store.items()
    assert len(summary.results) == len(real)
    by_name = {r.url.rsplit("/", 1)[1]: r for r in summary.results}
    assert by_name["nodefp__notafeed.html"].reason == "not a feed: got an HTML page"
    assert by_name["newsboat__empty_0bytes.xml"].reason == "not a feed: the response is empty"
    assert by_name["nodefp__nshipster_GZIP.xml"].status == "fetched"  # gzip bytes without a header
    assert by_name["nodefp__nshipster_GZIP.xml"].items == 25
    assert by_name["nnw__DaringFireball.json"].items > 40  # JSON Feed
    assert not any((r.reason or "").startswith("could not read") for r in summary.results)
    assert summary.count("fetched") > 80
    assert len(all_items) > 2000
    assert [i.id for i in all_items if unsafe_parts(i)] == []
    shutil.rmtree(root)
