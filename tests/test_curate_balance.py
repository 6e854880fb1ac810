"""An issue's balance (pipeline.curate.balance): counts against the network and the candidates,
and the partners not featured for a long time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import Sent, make_item, seed

from pipeline.curate import ranking
from pipeline.curate.balance import balance
from pipeline.infra.instance import load_config, load_issue
from pipeline.infra.store import Store

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def test_balance_counts_the_issue_against_the_network_and_names_the_quiet_partners(demo_root: Path) -> None:
    config = load_config(demo_root)
    day = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    items = [
        make_item(
            "z1",
            day,
            partner="gemeente-zwolle",
            themes=("meedoen",),
            horizon="verzachten",
            ervaringsdeskundigen=True,
        ),
        make_item("f1", day, partner="jgz-fryslan", themes=("gezondheid", "meedoen")),
        make_item("l1", day, partner="laptopfabriek", kind="tool"),
        make_item("old", dt.datetime(2026, 9, 1, tzinfo=dt.UTC), partner="leerplicht-rotterdam"),
    ]
    (demo_root / "issues").mkdir(exist_ok=True)
    (demo_root / "issues" / "2026-12.yaml").write_text(
        'id: "2026-12"\nsubject: S\nsections:\n  - section: partners\n    items:\n'
        "      - item: z1\n      - item: f1\n",
        encoding="utf-8",
    )
    sent_on = dt.datetime(2026, 9, 10, 8, 0, tzinfo=dt.UTC)
    with Store(config.settings.state) as store:
        seed(store, items, [Sent("2026-09", sent_on, placements=[("partners", "old")], completed=sent_on)])
        issue = load_issue(config, "2026-12")
        candidates = ranking.candidates(config, items[:3], NOW)
        b = balance(config, store, issue, store.get_items(["z1", "f1"]), candidates, NOW)
    dims = {d.id: d for d in b.dimensions}
    assert [(r.id, r.issue, r.network) for r in dims["sectors"].rows] == [
        ("gemeenten", 1, 1), ("onderwijs", 0, 1), ("jeugdgezondheidszorg", 1, 1), ("welzijn", 0, 1),
        ("bedrijfsleven", 0, 1), ("maatschappelijk", 0, 2),
    ]  # fmt: skip
    assert dims["sectors"].against == "partners" and dims["sectors"].network_total == 7
    assert [(r.id, r.issue, r.network) for r in dims["themes"].rows] == [
        ("meedoen", 2, 2),
        ("gezondheid", 1, 1),
    ]
    assert [(r.id, r.issue, r.network) for r in dims["kinds"].rows] == [("story", 2, 2), ("tool", 0, 1)]
    assert [(r.title, r.issue) for r in dims["horizons"].rows] == [("Verzachten", 1), ("not given", 1)]
    assert (b.lived, b.entries, b.lived_candidates, b.candidates) == (1, 2, 1, 3)
    # Never featured first (those with candidates now first, then by name), then the longest ago; partners in
    # this issue are left out. Leerplicht
    # Rotterdam was in September's issue: within the six months, so not quiet.
    assert [(q.id, q.last, q.candidates) for q in b.quiet] == [
        ("laptopfabriek", None, 1), ("samen-alliantie", None, 0), ("leergeld-brabant", None, 0),
        ("woningcorporatie-oost", None, 0),
    ]  # fmt: skip
