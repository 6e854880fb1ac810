"""`newsletter db`: moving the demo to PostgreSQL with every row, the same report on both engines,
a non-empty target refused, `db check` on clean and damaged databases, a schema-7 file upgraded."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import newsletter
from postgres import Cluster

# The tables of the schema, written out here (not taken from the code that copies them).
TABLES = [
    "consents", "counters", "deliveries", "delivery_batches", "events", "item_themes", "items",
    "rate_hits", "rate_keys", "recalls", "reminders", "send_attempts", "sent_editions", "sent_issues",
    "sent_items", "keys", "signup_tokens", "sources", "subscribers", "suppressions", "portal_saves",
    "portal_sessions", "portal_tokens",
]  # fmt: skip
# What the demo leaves in them: an issue sent, subscribers imported and signed up, events stored.
FILLED_BY_THE_DEMO = ["consents", "deliveries", "delivery_batches", "events", "items", "sent_issues",
                      "sent_items", "subscribers", "signup_tokens"]  # fmt: skip
SCHEMA_7 = Path(__file__).parent / "data" / "schema7.sqlite3"
PASSWORD = "hunter2-not-shown"


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(path)) as c:
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert names - {"sqlite_sequence"} == set(TABLES)
        return {t: sorted(tuple(r) for r in c.execute(f"SELECT * FROM {t}")) for t in TABLES}


def pg_rows(url: str, path: Path) -> dict[str, list[Any]]:
    """PostgreSQL's rows with their columns in the SQLite table's order (ALTER TABLE appended some
    there), sorted as sqlite_rows."""
    import psycopg

    out = {}
    with closing(sqlite3.connect(path)) as s, psycopg.connect(url) as c:
        names = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert names == {*TABLES, "schema_version"}
        for t in TABLES:
            names = [r[1] for r in s.execute(f"PRAGMA table_info({t})")]
            out[t] = sorted(tuple(r) for r in c.execute(f"SELECT {', '.join(names)} FROM {t}"))
    return out


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``newsletter demo DIR``, once: it collects, sends an issue, imports and signs up subscribers,
    stores SendGrid's events."""
    folder = tmp_path_factory.mktemp("db") / "demo"
    done = newsletter(folder, "demo", str(folder), timeout=300)
    assert done.returncode == 0, done.stderr
    return folder


def test_copy_moves_the_demo_with_every_row_and_the_report_is_the_same(
    demo_dir: Path, postgres: Cluster, tmp_path: Path
) -> None:
    state = demo_dir / "state" / "newsletter.sqlite3"
    before = sqlite_rows(state)
    for table in FILLED_BY_THE_DEMO:
        assert before[table], f"the demo left {table} empty: the copy would not be tested on it"

    url = with_password(postgres.new_database())
    done = newsletter(demo_dir, "db", "copy", "--to", url)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    after = pg_rows(url, state)
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert after == before  # every row, every value
    assert sqlite_rows(state) == before  # the source is left as it was
    total = sum(len(rows) for rows in before.values())
    assert f"Copied {total} rows of 23 tables" in done.stdout
    for table in FILLED_BY_THE_DEMO:
        assert f"  {table:<18} {len(before[table]):>9}" in done.stdout

    # The copy works as a state database: checked sound, and the demo's report is the same on both.
    on_pg = {"NEWSLETTER_DATABASE_URL": url}
    checked = newsletter(demo_dir, "db", "check", env=on_pg)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: the state database postgresql://postgres:***@")
    period = ("--from", "2026-01-01", "--to", "2026-12-31")
    lite = newsletter(demo_dir, "report", *period, "--out", str(tmp_path / "sqlite"))
    pg = newsletter(demo_dir, "report", *period, "--out", str(tmp_path / "pg"), env=on_pg)
    assert lite.returncode == 0 and pg.returncode == 0, lite.stderr + pg.stderr
    assert pg.stdout.replace("/pg/", "/sqlite/") == lite.stdout
    assert "Clicks (on the 1 issue sent in the period)" in lite.stdout  # the events are in it
    files = sorted(p.name for p in (tmp_path / "sqlite").iterdir())
    assert "index.html" in files and len(files) > 10
    assert files == sorted(p.name for p in (tmp_path / "pg").iterdir())
    for name in files:
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name

    # A sign-up on PostgreSQL after the copy gets the next consent number, not a copied one.
    import psycopg

    with psycopg.connect(url) as c:
        last = c.execute("SELECT max(id) FROM consents").fetchone()[0]
        c.execute("INSERT INTO consents (email, at, action) VALUES ('x@example.org', '2026-12-01', 'signup')")
        assert c.execute("SELECT max(id) FROM consents").fetchone()[0] == last + 1


def test_a_non_empty_target_is_refused(demo_dir: Path, postgres: Cluster) -> None:
    url = with_password(postgres.new_database())
    assert newsletter(demo_dir, "db", "copy", "--to", url).returncode == 0
    import psycopg

    with psycopg.connect(url) as c:
        counted = c.execute("SELECT count(*) FROM items").fetchone()[0]
    again = newsletter(demo_dir, "db", "copy", "--to", url)
    assert again.returncode == 1
    assert "Error: the target postgresql://postgres:***@" in again.stderr
    assert "is not empty: items (" in again.stderr
    assert "Fix: copy into a new, empty database" in again.stderr
    assert PASSWORD not in again.stdout + again.stderr
    with psycopg.connect(url) as c:
        assert c.execute("SELECT count(*) FROM items").fetchone()[0] == counted  # nothing added twice


def test_copy_refuses_its_own_source(demo_dir: Path) -> None:
    done = newsletter(demo_dir, "db", "copy", "--to", str(demo_dir / "state" / "newsletter.sqlite3"))
    assert done.returncode == 1 and "the copy's target is its source" in done.stderr


# -- check ----------------------------------------------------------------------------------------
NOW = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)


def _a_send(root: Path) -> None:
    """Three subscribers: two accepted in request 1, one unknown in request 2."""
    from pipeline.domain.models import DeliveryState
    from pipeline.infra.instance import load_config
    from pipeline.infra.store import Store

    with Store(load_config(root).settings.database) as store:
        store.load_audience([("a@example.org", None), ("b@example.org", None), ("c@example.org", None)], [])
        with store.transaction():
            store.sync_ledger("2026-12", NOW)
        store.claim_batch("2026-12", 2, NOW)
        store.finish_batch("2026-12", 1, DeliveryState.ACCEPTED, NOW, message_id="m1")
        store.claim_batch("2026-12", 2, NOW)
        store.finish_batch("2026-12", 2, DeliveryState.UNKNOWN, NOW, reason="lost")


def _raw(root: Path, engine: str, *sql: str) -> None:
    """Write behind the pipeline's back, as a hand or a bug would."""
    import os

    if engine == "postgresql":
        import psycopg

        with psycopg.connect(os.environ["NEWSLETTER_DATABASE_URL"]) as c:
            for s in sql:
                c.execute(s)
        return
    with closing(sqlite3.connect(root / "state" / "newsletter.sqlite3")) as c:
        for s in sql:
            c.execute(s)
        c.commit()


def test_check_passes_on_a_clean_database_and_finds_each_planted_problem(
    demo_root: Path, engine: str
) -> None:
    _a_send(demo_root)
    clean = newsletter(demo_root, "db", "check")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("OK: the state database ") and clean.stdout.rstrip().endswith("is sound.")

    # Carla's request is unknown; a hand marks her accepted.
    _raw(demo_root, engine, "UPDATE deliveries SET state = 'accepted' WHERE email = 'c@example.org'")
    # The consent history's guard is gone.
    trigger = "consents_never_changed" if engine == "postgresql" else "consents_never_deleted"
    _raw(demo_root, engine, f"DROP TRIGGER {trigger}" + (" ON consents" if engine == "postgresql" else ""))
    found = newsletter(demo_root, "db", "check")
    assert found.returncode == 1
    lines = found.stderr.splitlines()
    assert (
        "Error: issue 2026-12, request 2: 1 subscriber is accepted but the request is unknown:"
        " restore a backup; do not resend before it is settled"
    ) in lines
    assert any(
        line.startswith(f"Error: the trigger {trigger} that keeps the consent history") for line in lines
    )
    assert lines[-1].endswith("has 2 problems.")


def test_check_finds_a_disabled_trigger_and_a_lost_request_counter_on_postgresql(
    demo_root: Path, postgres: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", postgres.new_database())
    _a_send(demo_root)
    _raw(
        demo_root, "postgresql",
        "ALTER TABLE consents DISABLE TRIGGER consents_never_truncated",
        "UPDATE counters SET value = 1",
    )  # fmt: skip
    # Themes keep their item by triggers on PostgreSQL (migration 13): with one disabled, a hand can
    # write a theme of no item.
    _raw(
        demo_root, "postgresql",
        "ALTER TABLE item_themes DISABLE TRIGGER item_themes_inserted",
        "INSERT INTO item_themes (item, theme) VALUES ('gone', 'werk')",
    )  # fmt: skip
    found = newsletter(demo_root, "db", "check")
    assert found.returncode == 1
    assert "Error: the trigger consents_never_truncated that keeps" in found.stderr
    assert "Error: the trigger item_themes_inserted that keeps each theme's item is missing" in found.stderr
    assert "Error: a row of item_themes refers to a missing row of items: restore a backup" in found.stderr
    assert "Error: issue 2026-12: the request counter (1) is behind the last request (2)" in found.stderr


def test_check_finds_a_damaged_file_and_an_old_schema(demo_root: Path) -> None:
    _a_send(demo_root)
    path = demo_root / "state" / "newsletter.sqlite3"
    with closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA user_version = 7")
        c.commit()
    old = newsletter(demo_root, "db", "check")
    assert old.returncode == 1
    assert (
        "Error: the schema is at version 7, this release uses 13: run 'newsletter db upgrade'" in old.stderr
    )
    with closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA user_version = 8")
        c.execute("PRAGMA journal_mode = DELETE")
        page = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'deliveries_state'").fetchone()[0]
        c.commit()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    data[start + 8 : start + page] = b"\xa5" * (page - 8)  # the ledger's index scrambled
    path.write_bytes(bytes(data))
    damaged = newsletter(demo_root, "db", "check")
    assert damaged.returncode == 1
    assert "Traceback" not in damaged.stderr
    assert "Error: the file is damaged (" in damaged.stderr or "Error: cannot use the state database" in (
        damaged.stderr
    )


def test_check_speaks_dutch(demo_root: Path) -> None:
    _a_send(demo_root)
    done = newsletter(demo_root, "db", "check", env={"NEWSLETTER_LANG": "nl"})
    assert done.returncode == 0
    assert done.stdout.startswith("OK: de database ") and done.stdout.rstrip().endswith("is in orde.")


# -- upgrade --------------------------------------------------------------------------------------
def test_a_schema_7_file_upgrades_in_place_with_nothing_lost(demo_root: Path) -> None:
    path = demo_root / "state" / "newsletter.sqlite3"
    path.parent.mkdir(exist_ok=True)
    shutil.copyfile(SCHEMA_7, path)  # a state file as release 7 left it (kept in tests/data)
    with closing(sqlite3.connect(path)) as c:
        before = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES[:] if t not in (
            "counters", "keys", "rate_hits", "rate_keys", "suppressions", "sent_editions", "portal_saves",
            "portal_sessions", "portal_tokens")}  # fmt: skip
        consents = c.execute("SELECT rowid, email, action, status FROM consents ORDER BY rowid").fetchall()
    assert before["deliveries"] == 4 and len(consents) == 6

    done = newsletter(demo_root, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Upgraded the state database {path} from schema 7 to 13.\n"
    again = newsletter(demo_root, "db", "upgrade")
    assert again.stdout == f"The state database {path} is at schema 13: nothing to do.\n"

    with closing(sqlite3.connect(path)) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 13
        for table, n in before.items():
            assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n, table
        assert c.execute("SELECT id, email, action, status FROM consents ORDER BY id").fetchall() == consents
        assert c.execute("SELECT name, value FROM counters").fetchall() == [("batch:2026-11", 2)]
    checked = newsletter(demo_root, "db", "check")
    assert checked.returncode == 0, checked.stderr


def test_upgrade_without_a_database_says_where_it_looked(demo_root: Path) -> None:
    done = newsletter(demo_root, "db", "upgrade")
    assert done.returncode == 1
    assert "Error: there is no state database at " in done.stderr and "newsletter.state" in done.stderr
    assert not (demo_root / "state" / "newsletter.sqlite3").exists()


def test_an_upgrade_that_fails_half_way_names_the_database_without_a_traceback(demo_root: Path) -> None:
    path = demo_root / "state" / "newsletter.sqlite3"
    path.parent.mkdir(exist_ok=True)
    with closing(sqlite3.connect(path)) as c:  # some other program's database: schema 0, but a table 'items'
        c.execute("CREATE TABLE items (name TEXT)")
        c.commit()
    done = newsletter(demo_root, "db", "upgrade")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"Error: cannot use the state database {path}: table items already exists" in done.stderr


def test_a_copy_into_another_programs_database_names_it_without_a_traceback(
    demo_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(target)) as c:
        c.execute("CREATE TABLE items (name TEXT)")
        c.commit()
    done = newsletter(demo_dir, "db", "copy", "--to", str(target))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"Error: cannot use the state database {target}: table items already exists" in done.stderr
    with closing(sqlite3.connect(target)) as c:
        assert c.execute("SELECT name FROM sqlite_master").fetchall() == [("items",)]


def test_the_copy_knows_every_table_the_migrations_make(tmp_path: Path) -> None:
    from pipeline.infra.store import Store
    from pipeline.infra.store.maintenance import TABLES as COPIED

    with Store(tmp_path / "fresh.sqlite3"):
        pass
    with closing(sqlite3.connect(tmp_path / "fresh.sqlite3")) as c:
        made = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(COPIED) == made == set(TABLES)


def test_a_theme_needs_its_item_and_an_item_takes_its_themes_along(demo_root: Path, engine: str) -> None:
    # SQLite's foreign key; PostgreSQL's statement triggers (migration 13): the same rule.
    import psycopg

    from pipeline.infra.instance import load_config
    from pipeline.infra.store import Store

    refused = (sqlite3.IntegrityError, psycopg.errors.ForeignKeyViolation)
    config = load_config(demo_root)
    with Store(config.settings.database) as store:
        with store.db.transaction() as db:
            db.execute(
                "INSERT INTO items (id, url, source, partner, kind, published, first_seen, updated, origin,"
                " guid, content_hash, data) VALUES ('i1', 'https://example.org/a', 's', NULL, NULL,"
                " '2026-12-01', '2026-12-01', '2026-12-01', 'feed', NULL, 'h', '{}')"
            )
            db.execute("INSERT INTO item_themes (item, theme) VALUES ('i1', 'werk'), ('i1', 'onderwijs')")
        for wrong in (
            "INSERT INTO item_themes (item, theme) VALUES ('i1', 'meedoen'), ('gone', 'werk')",
            "UPDATE item_themes SET item = 'gone' WHERE theme = 'werk'",
            "UPDATE items SET id = 'i2' WHERE id = 'i1'",
        ):
            with pytest.raises(refused), store.db.transaction() as db:
                db.execute(wrong)
        assert store.db.scalar("SELECT count(*) FROM item_themes WHERE item = 'i1'") == 2
        with store.db.transaction() as db:
            db.execute("UPDATE items SET url = 'https://example.org/b' WHERE id = 'i1'")  # its id kept: fine
            db.execute("DELETE FROM items WHERE id = 'i1'")
        assert store.db.scalar("SELECT count(*) FROM item_themes") == 0


def test_items_json_is_compressed_by_lz4_on_postgresql(postgres: Cluster) -> None:
    # Migration 13: lz4 inserts a cold collect's items in a third of pglz's time (Debian's server has it).
    import psycopg

    from pipeline.infra.store import Store

    url = postgres.new_database()
    with Store(url):
        pass
    with psycopg.connect(url) as c:
        method = c.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'data'"
        ).fetchone()
    assert method == ("l",)
