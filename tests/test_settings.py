"""The settings tree's defaults: what docs/formats.md promises, what the dataclasses declare, and what a
sources.yaml that leaves everything out (or `newsletter init`'s skeleton) is read as, are one and the same.
The expected values are written out by hand here, from the docs, not taken from the code."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

from pipeline.domain.config import (
    Coverage,
    Delivery,
    Limits,
    MonitoringSettings,
    PlainLanguage,
    ReportSettings,
    SectionTerm,
    SendGrid,
    Settings,
    Signup,
)
from pipeline.infra import instance

CONSENT = (
    "Ja, ik wil de nieuwsbrief ontvangen. Mijn e-mailadres wordt alleen daarvoor gebruikt; ik kan me"
    " altijd afmelden via de link in elke nieuwsbrief."
)

# Every default, by its place in sources.yaml, as docs/formats.md lists it.
DOCUMENTED: dict[str, Any] = {
    "language": "nl",
    "timezone": "Europe/Amsterdam",
    "subscribers": "subscribers.csv",
    "state": "state/newsletter.sqlite3",
    "sendgrid.region": "global",
    "sendgrid.unsubscribe_group": None,
    "sendgrid.categories": (),
    "sendgrid.timeout": 60,
    "sendgrid.settle": 30,
    "utm": {},
    "editors": (),
    "coverage.essential_sectors": (),
    "coverage.essential_themes": (),
    "coverage.max_share": 0.5,
    "report.silent_months": 6,
    "collect.timeout": 20,
    "collect.max_bytes": 10_000_000,
    "collect.concurrency": 256,
    "collect.per_host": 4,
    "collect.retries": 2,
    "collect.allow_private_addresses": False,
    "delivery.hold_minutes": 30,
    "delivery.schedule_ahead_minutes": 60,
    "plain_language.enabled": True,
    "plain_language.max_sentence_words": 15,
    "plain_language.max_word_syllables": 6,
    "plain_language.min_flesch_douma": 60,
    "plain_language.skip": frozenset(),
    "plain_language.allow": frozenset(),
    "plain_language.stadhuistaal": (),
    "signup.public_url": None,
    "signup.consent_text": CONSENT,
    "signup.consent_version": "1",
    "signup.link_days": 7,
    "signup.per_client_per_hour": 20,
    "signup.per_address_per_day": 3,
    "monitoring.kind": "voortgang",
}
SECTION_LIMIT = 5

MINIMAL = """\
newsletter:
  title: Nieuwsbrief
  from: {email: nieuwsbrief@example.org}
  postal_address: Straat 1, 1234 AB Plaats
  archive_url: https://www.example.org/nieuwsbrief/
taxonomy:
  sections: [{id: nieuws, title: Nieuws}]
  themes: [{id: meedoen, title: Meedoen}]
  sectors: [{id: gemeenten, title: Gemeenten}]
  provinces: [{id: landelijk, title: Landelijk}]
  kinds: [{id: story, title: Verhaal}, {id: voortgang, title: Voortgang}]
"""


def value_of(settings: Settings, key: str, root: Path) -> Any:
    """The checked setting at a sources.yaml key, in the form the file writes it."""
    section, _dot, name = key.rpartition(".")
    holder: Any = settings
    if section:
        holder = getattr(settings, {"plain_language": "plain"}.get(section, section))
    value = getattr(holder, name)
    if key == "timezone":
        return value.key
    if key in ("subscribers", "state"):
        return value.relative_to(root).as_posix()
    return value


def test_a_sources_yaml_that_leaves_every_setting_out_is_read_as_the_documented_defaults(
    tmp_path: Path,
) -> None:
    (tmp_path / "sources.yaml").write_text(MINIMAL, encoding="utf-8")
    config, problems = instance.check_config(tmp_path)
    assert config is not None, problems
    read = {key: value_of(config.settings, key, tmp_path) for key in DOCUMENTED}
    assert read == DOCUMENTED
    assert config.settings.delivery.hold == dt.timedelta(minutes=30)
    assert config.settings.delivery.schedule_ahead == dt.timedelta(hours=1)
    assert config.taxonomy.sections["nieuws"].limit == SECTION_LIMIT


def test_the_dataclasses_declare_the_documented_defaults() -> None:
    sections: dict[str, Any] = {
        "sendgrid": SendGrid(),
        "coverage": Coverage(),
        "report": ReportSettings(),
        "collect": Limits(),
        "delivery": Delivery(),
        "plain_language": PlainLanguage(),
        "signup": Signup(),
        "monitoring": MonitoringSettings(),
    }
    for key, expected in DOCUMENTED.items():
        section, _dot, name = key.rpartition(".")
        if section:
            assert getattr(sections[section], name) == expected, key
    assert Settings.language == "nl"
    assert Settings.timezone.key == "Europe/Amsterdam"
    assert Settings.subscribers == Path("subscribers.csv")
    assert Settings.state == Path("state/newsletter.sqlite3")
    assert SectionTerm.limit == SECTION_LIMIT


def test_docs_formats_lists_the_defaults() -> None:
    text = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    paragraph = " ".join(text[text.index("Every default lives") :].split("\n\n", 1)[0].split())
    for phrase in (
        "`language: nl`", "`timezone: Europe/Amsterdam`", "`subscribers: subscribers.csv`",
        "`state: state/newsletter.sqlite3`", "region global, timeout 60 s, settle 30 s",
        "`coverage.max_share: 0.5`", "`report.silent_months: 6`",
        "timeout 20 s, max_bytes 10 MB, concurrency 256, per_host 4, retries 2, allow_private_addresses false",
        "hold_minutes 30, schedule_ahead_minutes 60",
        "sentences of at most 15 words, words of at most 6 syllables, Flesch-Douma 60",
        'link_days 7, per_client_per_hour 20, per_address_per_day 3, consent_version "1"',
        "a section's `limit` 5", "`monitoring.kind: voortgang`",
    ):  # fmt: skip
        assert phrase in paragraph, phrase
    # The example sources.yaml's sections marked "defaults shown" show the defaults.
    example = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", text, re.S)[0])["newsletter"]
    shown = {f"collect.{k}": v for k, v in example["collect"].items()}
    shown |= {
        f"signup.{k}": v for k, v in example["signup"].items() if k not in ("public_url", "consent_text")
    }
    shown |= {
        f"plain_language.{k}": v for k, v in example["plain_language"].items() if k.startswith(("max", "min"))
    }
    assert shown == {k: DOCUMENTED[k] for k in shown}
    assert len(shown) == 6 + 4 + 3


def test_the_skeleton_of_newsletter_init_keeps_the_defaults_it_does_not_set(tmp_path: Path) -> None:
    root = tmp_path / "nieuwsbrief"
    instance.create(root)
    config, problems = instance.check_config(root)
    assert config is not None, problems
    settings = config.settings
    assert (settings.language, settings.timezone.key) == ("nl", "Europe/Amsterdam")
    assert (settings.sendgrid.region, settings.sendgrid.categories) == ("eu", ("nieuwsbrief",))
    assert settings.subscribers == root / "private" / "subscribers.csv"
    assert settings.state == root / "state" / "newsletter.sqlite3"
    for key, expected in DOCUMENTED.items():
        if key.startswith(("collect.", "delivery.", "signup.", "plain_language.", "coverage.max", "report.")):
            assert value_of(settings, key, root) == expected, key


@pytest.mark.parametrize(
    ("delivery", "problem"),
    [
        (
            "{hold_minutes: 90}",
            "schedule_ahead_minutes (60) is less than hold_minutes (90); make it at least the hold plus the"
            " interval cron runs at",
        ),
        (
            "{hold_minutes: 30, schedule_ahead_minutes: 4300}",
            "schedule_ahead_minutes is more than SendGrid holds mail (72 hours); use fewer minutes",
        ),
    ],
)
def test_a_send_cron_hands_over_must_stay_recallable_and_within_sendgrid_s_72_hours(
    tmp_path: Path, delivery: str, problem: str
) -> None:
    # The issue goes to SendGrid schedule_ahead_minutes before it goes out; it can be recalled until the
    # hold ends. Handed over later than the hold, a recall would come too late.
    text = MINIMAL.replace("  archive_url:", f"  delivery: {delivery}\n  archive_url:")
    (tmp_path / "sources.yaml").write_text(text, encoding="utf-8")
    config, problems = instance.check_config(tmp_path)
    assert config is None
    assert [p.message for p in problems] == [problem], problems
    fine = MINIMAL.replace(
        "  archive_url:", "  delivery: {hold_minutes: 60, schedule_ahead_minutes: 60}\n  archive_url:"
    )
    (tmp_path / "sources.yaml").write_text(fine, encoding="utf-8")
    config, problems = instance.check_config(tmp_path)
    assert config is not None and config.settings.delivery.hold == dt.timedelta(hours=1), problems
