"""collect reaches only what it should: no internal addresses (redirects and DNS answers included),
no files outside the instance, and only regular files, read within the size cap.

The network tests run ``newsletter collect`` as a process against real servers on loopback. The
ones that need a public host first (a redirect from a partner's server to an internal one, DNS
rebinding) run in-process: the resolver answers a public address, and the test's network carries
connections to that address to a local server, so nothing ever leaves the machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import newsletter
from feedserver import FeedServer

from pipeline.collect import collect
from pipeline.infra import fetch
from pipeline.infra.fetch import Limits
from pipeline.infra.instance import load_config
from pipeline.infra.store import Store

SETTING = "set newsletter.collect.allow_private_addresses: true in sources.yaml for an intranet feed"
PUBLIC = "93.184.216.34"  # a public address; the tests' network carries it to a local server


def rss(title: str, link: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Nieuws</title>'
        f"<link>https://www.example.nl/</link><item><title>{title}</title><link>{link}</link>"
        "<pubDate>Mon, 23 Nov 2026 08:30:00 +0100</pubDate><description>Over het plan</description>"
        "</item></channel></rss>"
    ).encode()


def with_sources(root: Path, sources: dict[str, str], **collect_settings: Any) -> Path:
    """The demo instance with these extra sources (id -> url) and ``newsletter.collect`` settings."""
    path = root / "sources.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sources"] += [
        {"id": sid, "name": sid, "url": url, "kind": "story"} for sid, url in sources.items()
    ]
    config["newsletter"].setdefault("collect", {}).update(collect_settings)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


def items(root: Path) -> list[dict[str, str]]:
    listed = newsletter(root, "items", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def failures(stderr: str) -> dict[str, str]:
    """``failed: SOURCE (URL): REASON`` lines, by source."""
    out = {}
    for line in stderr.splitlines():
        if line.startswith("failed: "):
            source, rest = line.removeprefix("failed: ").split(" ", 1)
            out[source] = rest.split("): ", 1)[1]
    return out


# -- the address classifier, against a table written by hand ----------------------------------------
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.1.2.3", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("::ffff:10.1.2.3", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "reserved"),  # 0.0.0.0/8, "this network"
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("100.64.0.1", "shared"),  # carrier-grade NAT
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "reserved"),  # documentation
    ("198.18.0.1", "reserved"),  # benchmarking
    ("2001:db8::1", "reserved"),  # documentation
    ("64:ff9b::7f00:1", "loopback"),  # 127.0.0.1 behind NAT64
    ("2002:7f00:1::1", "loopback"),  # 127.0.0.1 in 6to4
]
ALLOWED = ["8.8.8.8", "1.1.1.1", PUBLIC, "2001:4860:4860::8888", "2a00:1450:4001:82a::200e", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "kind"), REFUSED, ids=[a for a, _ in REFUSED])
def test_internal_addresses_are_recognised(address: str, kind: str):
    found = fetch.internal_kind(address)
    assert found is not None and kind in found


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str):
    assert fetch.internal_kind(address) is None


# -- as a user runs it: a process, real servers on loopback -----------------------------------------
def test_a_feed_on_a_loopback_address_is_refused_and_the_others_are_collected(demo_root: Path):
    with FeedServer() as server:
        url = server.route("/feed.rss", rss("Intern nieuws", "https://intra.example.nl/geheim"))
        root = with_sources(demo_root, {"intranet": url})
        result = newsletter(root, "collect")
        assert server.hits("/feed.rss") == 0
    assert result.returncode == 3, result.stderr
    assert failures(result.stderr) == {"intranet": f"127.0.0.1 is a loopback address: collect refuses "
                                                   f"internal addresses; {SETTING}"}  # fmt: skip
    assert "Traceback" not in result.stderr
    found = items(root)
    assert len(found) == 22  # the demo's own sources, all collected
    assert "Intern nieuws" not in {i["title"] for i in found}


def test_a_redirect_to_an_internal_address_is_refused_and_nothing_is_stored(demo_root: Path):
    with FeedServer() as public, FeedServer(host="127.0.0.2") as internal:
        internal.route("/internal", rss("Geheim", "https://intra.example.nl/geheim"))
        url = public.route("/feed.rss", status=302, location=internal.url("/internal"))
        root = with_sources(demo_root, {"partner-feed": url})
        result = newsletter(root, "collect")
        assert internal.hits("/internal") == 0
    assert result.returncode == 3
    assert "partner-feed" in failures(result.stderr)
    assert SETTING in failures(result.stderr)["partner-feed"]
    assert "Geheim" not in {i["title"] for i in items(root)}
    db = sqlite3.connect(load_config(root).settings.state)
    assert db.execute("SELECT count(*) FROM items WHERE source = 'partner-feed'").fetchone()[0] == 0
    db.close()


def test_with_the_setting_an_intranet_feed_and_its_redirect_are_collected(demo_root: Path):
    with FeedServer() as public, FeedServer(host="127.0.0.2") as internal:
        internal.route("/internal", rss("Intranetbericht", "https://intra.example.nl/bericht"))
        url = public.route("/feed.rss", status=302, location=internal.url("/internal"))
        root = with_sources(demo_root, {"intranet": url}, allow_private_addresses=True)
        result = newsletter(root, "collect")
        assert internal.hits("/internal") == 1
    assert result.returncode == 0, result.stderr
    assert "Intranetbericht" in {i["title"] for i in items(root)}


def test_the_setting_is_checked_like_the_others(demo_root: Path):
    with_sources(demo_root, {}, allow_private_addresses="ja")
    result = newsletter(demo_root, "validate")
    assert result.returncode != 0
    assert "'allow_private_addresses' should be true or false, not 'ja'" in result.stdout + result.stderr


# -- a public host that leads inside: in-process, over a simulated network -------------------------
class Network:
    """The tests' internet: ``PUBLIC`` is carried to a local server; nothing else is reachable, and
    every connection attempt is recorded (the address connected to, as the backend asked)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, public_server: FeedServer, names: dict[str, list[list[str]]]
    ):
        self.connects: list[str] = []
        self.lookups: list[str] = []
        real_connect = fetch.open_stream

        async def connect_tcp(address: str, port: int, tls: Any, host: str) -> Any:
            self.connects.append(address)
            if address == PUBLIC:
                return await real_connect(public_server.host, public_server.port, tls, host)
            if address.startswith("127.") or address in ("::1", "localhost"):
                return await real_connect(address, port, tls, host)  # a bug would reach the internal server
            raise ConnectionRefusedError(f"{address} is not reachable in the test")

        async def resolve(host: str) -> list[str]:
            self.lookups.append(host)
            answers = names.get(host)
            if answers is None:
                return await real_resolve(host)
            return answers[min(self.lookups.count(host), len(answers)) - 1]

        real_resolve = fetch.resolve
        monkeypatch.setattr(fetch, "open_stream", connect_tcp)
        monkeypatch.setattr(fetch, "resolve", resolve)


def collect_in_process(root: Path, **limits: Any):
    config = load_config(root)
    with Store(config.settings.state) as store:
        return collect(config, store, limits=Limits(timeout=3, retries=1, backoff=0.01, **limits))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://127.0.0.1:{port}/internal", "127.0.0.1 is a loopback address"),
        ("http://[::1]:{port}/internal", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (where cloud servers keep their metadata)"),
        ("http://intranet.partner.example:{port}/internal", "intranet.partner.example resolves to 10.0.0.5, a private address"),
        ("http://dual.partner.example:{port}/internal", "dual.partner.example resolves to ::ffff:127.0.0.1, a loopback address"),
    ],
    ids=["loopback", "ipv6-loopback", "metadata", "private-name", "public-and-mapped-loopback"],
)  # fmt: skip
def test_every_redirect_hop_is_checked_before_connecting(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch, target: str, expected: str
):
    with FeedServer() as public, FeedServer() as internal:
        internal.route("/internal", rss("Geheim", "https://intra.example.nl/geheim"))
        public.route("/feed.rss", status=302, location=target.format(port=internal.port))
        names = {
            "feeds.partner.example": [[PUBLIC]],
            "intranet.partner.example": [["10.0.0.5"]],
            "dual.partner.example": [[PUBLIC, "::ffff:127.0.0.1"]],
        }
        net = Network(monkeypatch, public, names)
        root = with_sources(
            demo_root, {"partner-feed": f"http://feeds.partner.example:{public.port}/feed.rss"}
        )
        summary = collect_in_process(root)
        assert public.hits("/feed.rss") == 1  # the first hop was fetched: a public address
        assert internal.hits("/internal") == 0
    assert set(net.connects) == {PUBLIC}
    (failed,) = summary.failed
    assert failed.source == "partner-feed"
    assert failed.reason == f"{expected}: collect refuses internal addresses; {SETTING}"


def test_dns_rebinding_cannot_move_the_connection_to_an_internal_address(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
):
    """The name resolves to a public address first and to loopback after that: the connection
    goes to the address that was checked (which, here, cannot be reached), never to loopback."""
    with FeedServer() as internal:
        internal.route("/feed.rss", rss("Geheim", "https://intra.example.nl/geheim"))
        # "localhost" is a name the system itself resolves to loopback, so connecting by name (not by
        # the checked number) would reach the internal server.
        names = {"localhost": [["8.8.8.8"], ["127.0.0.1"]]}
        net = Network(monkeypatch, internal, names)
        url = f"http://localhost:{internal.port}/feed.rss"
        root = with_sources(demo_root, {"rebind-a": url, "rebind-b": url + "?b"})
        summary = collect_in_process(root)
        assert internal.hits("/feed.rss") == 0
    assert net.connects and set(net.connects) == {"8.8.8.8"}  # only ever the checked address
    assert {r.source for r in summary.failed} == {"rebind-a", "rebind-b"}
    assert all(r.reason and r.reason.startswith("cannot connect") for r in summary.failed)
    assert net.lookups.count("localhost") == 1  # resolved once per run, for both sources and the retries


# -- local files ---------------------------------------------------------------------------------------
def test_links_out_of_the_instance_are_refused_by_validate_and_collect(demo_root: Path, tmp_path: Path):
    outside = tmp_path / "elders"
    outside.mkdir()
    sub = demo_root / "submissions" / "2026-11-laptopfabriek.yaml"
    (outside / "laptops.yaml").write_bytes(sub.read_bytes())
    sub.unlink()
    sub.symlink_to(outside / "laptops.yaml")  # a submission that is a link out of the instance
    progress = demo_root / "monitoring" / "2026" / "samen-alliantie.yaml"
    (outside / "voortgang.yaml").write_bytes(progress.read_bytes())
    progress.unlink()
    progress.symlink_to(outside / "voortgang.yaml")
    # Links that stay inside the instance are fine.
    (demo_root / "archief" / "2026").mkdir(parents=True)
    kept = demo_root / "monitoring" / "2026" / "gemeente-zwolle.yaml"
    kept.rename(demo_root / "archief" / "2026" / "gemeente-zwolle.yaml")
    kept.symlink_to(Path("..") / ".." / "archief" / "2026" / "gemeente-zwolle.yaml")
    story = demo_root / "archief" / "fiets.yaml"
    story.write_text(
        sub.read_text().replace("1.200 opgeknapte laptops voor leerlingen", "Fietsen voor leerlingen")
        .replace("verhalen/1200-laptops", "verhalen/fietsen"),
        encoding="utf-8",
    )  # fmt: skip
    (demo_root / "submissions" / "fiets.yaml").symlink_to(Path("..") / "archief" / "fiets.yaml")

    reason = "leads outside the instance (to {}): only regular files inside the instance are read"
    checked = newsletter(demo_root, "validate")
    assert checked.returncode != 0
    lines = (checked.stdout + checked.stderr).splitlines()
    for link, target in ((sub, "laptops.yaml"), (progress, "voortgang.yaml")):
        shown = link.relative_to(demo_root)
        expected = f"{shown}: " + reason.format(outside.resolve() / target)
        assert any(line.startswith(expected) for line in lines), lines
    assert not any(
        line.startswith(("submissions/fiets.yaml", "monitoring/2026/gemeente-zwolle")) for line in lines
    )

    collected = newsletter(demo_root, "collect")
    assert collected.returncode == 3
    assert (
        f"submissions/2026-11-laptopfabriek.yaml: {reason.format(outside.resolve() / 'laptops.yaml')}"
        in collected.stderr
    )
    assert "Traceback" not in collected.stderr
    found = items(demo_root)
    titles = {i["title"] for i in found}
    assert "Fietsen voor leerlingen" in titles
    assert "1.200 opgeknapte laptops voor leerlingen" not in titles
    sources = {i["source"] for i in found}
    assert "monitoring:gemeente-zwolle" in sources and "monitoring:samen-alliantie" not in sources


def test_local_feeds_that_are_not_regular_files_inside_the_instance_fail_alone(
    demo_root: Path, tmp_path: Path
):
    os.mkfifo(demo_root / "feeds" / "pijp.rss")
    (demo_root / "feeds" / "map.rss").mkdir()
    (tmp_path / "elders.rss").write_bytes(rss("Van buiten", "https://www.example.nl/buiten"))
    (demo_root / "feeds" / "link.rss").symlink_to(tmp_path / "elders.rss")
    root = with_sources(
        demo_root,
        {
            "nul": "/dev/zero",
            "pijp": "feeds/pijp.rss",
            "map": "feeds/map.rss",
            "omhoog": "../elders.rss",
            "absoluut": str(tmp_path / "elders.rss"),
            "link": "feeds/link.rss",
        },
    )
    started = time.monotonic()
    result = newsletter(root, "collect", timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    only = "only regular files inside the instance are read"
    outside = f"is outside the instance: {only}; copy the feed into the instance"
    assert failures(result.stderr) == {
        "nul": f"is a device, not a regular file: {only}; check the path in sources.yaml",
        "pijp": f"is a named pipe (FIFO), not a regular file: {only}; check the path in sources.yaml",
        "map": f"is a folder, not a regular file: {only}; check the path in sources.yaml",
        "omhoog": outside,
        "absoluut": outside,
        "link": f"leads outside the instance (to {(tmp_path / 'elders.rss').resolve()}): {only}; copy the file "
        "into the instance instead of linking to it",
    }
    assert "6 failed; 22 new items" in result.stdout  # the demo's own sources all collected
    assert "Van buiten" not in {i["title"] for i in items(root)}


def test_a_local_feed_is_read_only_up_to_the_cap(demo_root: Path):
    big = demo_root / "feeds" / "groot.rss"
    big.write_bytes(rss("Groot", "https://www.example.nl/groot") + b"<!--" + b"x" * 3000 + b"-->")
    root = with_sources(demo_root, {"groot": "feeds/groot.rss"}, max_bytes=2000)
    result = newsletter(root, "collect")
    assert result.returncode == 3
    assert (
        failures(result.stderr)["groot"] == "larger than the limit of 0.002 MB (newsletter.collect.max_bytes)"
    )
