"""The issue check beyond the file's structure: the items in the database, the images, the sections'
limits, the partner cap, coverage, plain Dutch (B1); the links come from ``pipeline.curate.links``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipeline.curate import ranking
from pipeline.curate.links import check_links, image_of, issue_links, link_hygiene
from pipeline.domain import plain
from pipeline.domain.config import NATIONWIDE, Config
from pipeline.domain.editions import issue_tags
from pipeline.domain.errors import InputInvalid, NotFound, Problem, display_path
from pipeline.domain.i18n import N_, _
from pipeline.domain.issues import Entry, Issue, issue_path
from pipeline.domain.markup import plain_text
from pipeline.domain.models import Item
from pipeline.domain.yamldoc import KeyPath, YamlDoc
from pipeline.infra.instance import check_issue_file
from pipeline.infra.store import Store
from pipeline.infra.yamlfile import load


def _title(entry: Entry, item: Item | None) -> str:
    return entry.title or (item.title if item else "") or entry.url or "?"


# What an image lacks (Image.missing), as check's messages name it.
MISSING = {
    ("alt text",): N_("alt text"),
    ("consent",): N_("consent"),
    ("alt text", "consent"): N_("alt text and no consent"),
}


def check(config: Config, store: Store, issue: Issue, *, links: bool = False) -> list[Problem]:
    """What the structure check cannot see: the items in the database (there, in one place, not sent
    before), the images' alt text and consent, the sections' limits, the cap per partner, coverage,
    the links' hygiene, plain Dutch (B1), and (``links``) whether every link answers.

    Errors block approval; warnings are for the editor to weigh. Every problem names the line.
    """
    out: list[Problem] = []
    entries = issue.entries()
    items = store.get_items(e.item for _line, e in entries if e.item)
    earlier = {r.item: r.issue for r in store.sent_items() if r.issue != issue.id}

    # The subject's length and the preheader are bulk-sender rules, checked on the rendered
    # message by pipeline.run.check (pipeline.domain.bulk); a subject is needed to approve at all.
    if not issue.subject:
        why = _("no subject; write 'subject: ...', the line subscribers see in their inbox")
        out.append(Problem(issue.path, issue.line("subject"), why))
    if not entries:
        why = _("no section has items; move entries from 'runners_up' into 'items'")
        out.append(Problem(issue.path, issue.line("sections"), why))
    out += _entry_problems(issue, entries, items, earlier)
    out += _section_limits(config, issue)
    out += _editions(config, issue, items)
    out += _partner_cap(config, issue, entries, items)
    if entries:
        out += _coverage(config, issue, entries, items)
    out += link_hygiene(store, issue, entries, items, earlier)
    if config.settings.plain.enabled:
        out += _plain_language(config, issue, items)
    if links:
        out += check_links(issue, issue_links(issue, entries, items))
    return out


def _editions(config: Config, issue: Issue, items: dict[str, Item]) -> list[Problem]:
    """A warning for each personalised section none of whose entries is about a province (theme):
    no reader's edition would differ from the issue as it is."""
    tags = issue_tags(config, issue, items)
    out = []
    for section in issue.sections:
        by = section.personalise
        if by and not any(tags.get((section.id, i), {}).get(by) for i in range(len(section.items))):
            why = _(
                "section '{section}' is personalised by {dimension}, but none of its entries names any, "
                "so every reader gets it as it is; remove 'personalise', or choose entries about {dimension}"
            )
            out.append(
                Problem(issue.path, section.line, why.format(section=section.id, dimension=by), "warning")
            )
    return out


def _entry_problems(
    issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item], earlier: dict[str, str]
) -> list[Problem]:
    """Each entry: its item in the database, in one place only, not sent before; and its image."""
    out: list[Problem] = []

    def error(line: int, message: str) -> None:
        out.append(Problem(issue.path, line, message))

    seen: dict[str, tuple[str, int]] = {}
    for section, e in entries:
        item = items.get(e.item) if e.item else None
        if e.item and item is None:
            error(
                e.line,
                _(
                    "item '{item}' is not in the state database; check the id with 'newsletter items' "
                    "or run 'newsletter collect'"
                ).format(item=e.item),
            )
        if e.item and e.item in seen:
            other, line = seen[e.item]
            error(
                e.line,
                _("item '{item}' is also in section '{section}' (line {line}); keep it in one place").format(
                    item=e.item, section=other, line=line
                ),
            )
        elif e.item:
            seen[e.item] = (section.id, e.line)
        if e.item and e.item in earlier:
            error(
                e.line,
                _("item '{item}' went out in issue {issue} already; remove it from this issue").format(
                    item=e.item, issue=earlier[e.item]
                ),
            )
        problem = _image_problem(issue, e, item)
        if problem is not None:
            out.append(problem)
    return out


def _image_problem(issue: Issue, e: Entry, item: Item | None) -> Problem | None:
    """An image without alt text or consent: an error when the editor gave it, else a warning (the
    item's own image is left out)."""
    image, own = image_of(e, item)
    if image is None:
        return None
    title = _title(e, item)
    missing = image.missing()
    lacks = _(MISSING.get(missing, " and no ".join(missing))) if missing else ""
    if missing and own:
        why = _(
            "the image of '{title}' has no {missing}; add 'alt' (what the image shows) and "
            "'consent: true' (everyone recognisable agreed) to its 'image', or remove the image"
        )
        return Problem(issue.path, e.line, why.format(title=title, missing=lacks))
    if missing:
        why = _(
            "the image of '{title}' has no {missing}, so it is left out; to show it, add "
            "'image: {{url: ..., alt: ..., consent: true}}' to the entry"
        )
        return Problem(issue.path, e.line, why.format(title=title, missing=lacks), "warning")
    return None


def _section_limits(config: Config, issue: Issue) -> list[Problem]:
    """A warning for each section with more items than its limit."""
    out: list[Problem] = []
    for section in issue.sections:
        term = config.taxonomy.sections.get(section.id)
        limit = term.limit if term else 0
        if limit and len(section.items) > limit:
            message = _(
                "section '{section}' has {n} items, over its limit of {limit}; move {extra} to 'runners_up'"
            ).format(section=section.id, n=len(section.items), limit=limit, extra=len(section.items) - limit)
            out.append(Problem(issue.path, section.line, message, "warning"))
    return out


def _plain_language(config: Config, issue: Issue, items: dict[str, Item]) -> list[Problem]:
    """B1 warnings for what the editors wrote (subject, preheader, intro, each entry's title and
    summary), at the line of each sentence or word, and one warning per partner text that goes out
    unchanged (a title or summary from a feed or submission), at the entry: the editors answer for
    what readers get, and the fix is theirs, their own 'title:' or 'summary:' under the entry."""
    path = issue_path(config.root, issue.id)
    try:
        doc = load(path, issue.path)
    except InputInvalid:
        return []
    settings, known = config.settings.plain, plain.vocabulary(config)
    data = doc.data if isinstance(doc.data, dict) else {}
    texts = [
        plain.TextAt((key,), f"the {key}", data[key])
        for key in ("subject", "preheader", "intro")
        if isinstance(data.get(key), str)
    ]
    partner_texts: list[Problem] = []
    for i, section in enumerate(data.get("sections") or []):
        entries = section.get("items") if isinstance(section, dict) else None
        for j, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            kp: KeyPath = ("sections", i, "items", j)
            for key in ("title", "summary"):
                if isinstance(entry.get(key), str):
                    texts.append(plain.TextAt((*kp, key), f"the {key}", entry[key]))
            item = items.get(str(entry.get("item"))) if entry.get("item") else None
            if item is not None:
                partner_texts += _partner_texts(doc, kp, entry, item, config, known)
    return plain.check_texts(doc, texts, settings, known) + partner_texts


def _partner_texts(
    doc: YamlDoc, kp: KeyPath, entry: dict[str, Any], item: Item, config: Config, known: plain.Vocabulary
) -> list[Problem]:
    line = doc.line(*kp) or 1
    silence = plain.file_silence(doc, line)
    settings = config.settings.plain
    out = []
    partner = config.partners.get(item.partner or "")
    whose = f" ({partner.name})" if partner else ""
    # The partner's own title and summary, each unless the entry writes its own.
    texts = (
        ("title", item.title, "the title",
         N_("the partner's title '{title}'{whose} is not plain Dutch: {broken}; "
            "write your own 'title:' under this entry")),
        ("summary", item.summary_text or plain_text(item.summary_html), "the summary",
         N_("the partner's summary of '{title}'{whose} is not plain Dutch: {broken}; "
            "write your own 'summary:' under this entry")),
    )  # fmt: skip
    for key, text, what, advice in texts:
        broken = plain.overview(text, what, settings, known, silence) if key not in entry else []
        if broken:
            message = f"{plain.ADVICE}: " + _(advice).format(
                title=item.title, whose=whose, broken=", ".join(broken)
            )
            out.append(Problem(doc.path, line, message, "warning"))
    return out


def _partner_cap(
    config: Config, issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[Problem]:
    """A warning at each collected item beyond the draft's cap of one partner (or source), in file
    order: a third story of one partner promoted or added by hand (ranking.PARTNER_CAP)."""
    out: list[Problem] = []
    lines: dict[str, list[int]] = {}
    seen: set[str] = set()
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        if item is None or item.id in seen:  # an item twice is an error of its own
            continue
        seen.add(item.id)
        who = ranking.who(config, item)
        earlier = lines.setdefault(who, [])
        earlier.append(e.line)
        if len(earlier) > ranking.PARTNER_CAP:
            partner = config.partners.get(who)
            source = config.sources.get(who.removeprefix("source:"))
            name = partner.name if partner else source.name if source else who.removeprefix("source:")
            others = ", ".join(str(n) for n in earlier[:-1])
            message = _(
                "'{title}' is item {n} from {name} in this issue (the others: lines {others}); a draft "
                "takes at most {cap} per partner: move one to 'runners_up'"
            ).format(title=_title(e, item), n=len(earlier), name=name, others=others, cap=ranking.PARTNER_CAP)
            out.append(Problem(issue.path, e.line, message, "warning"))
    return out


def _coverage(
    config: Config, issue: Issue, entries: list[tuple[Any, Entry]], items: dict[str, Item]
) -> list[Problem]:
    """Warnings when the line-up leaves out what the network cares about, or leans on one place."""
    out: list[Problem] = []
    line = issue.line("sections")
    s = config.settings
    partners, provinces = Counter[str](), Counter[str]()
    sectors: set[str] = set()
    themes: set[str] = set()
    lived = False
    for _line, e in entries:
        item = items.get(e.item) if e.item else None
        pid = (item.partner if item else None) or e.partner
        partner = config.partners.get(pid or "")
        who = partner.id if partner else (f"source:{item.source}" if item else None)
        if who:
            partners[who] += 1
        if partner:
            sectors.add(partner.sector)
        if item:
            themes.update(item.themes)
            lived = lived or item.ervaringsdeskundigen
        places = (item.provinces if item else ()) or ((partner.province,) if partner else ())
        provinces.update(set(places) - {NATIONWIDE})
    # Each essential sector and theme the line-up leaves out; the message's placeholder is the kind's name.
    essentials = (
        ("sector", s.coverage.essential_sectors, sectors, config.taxonomy.sectors,
         N_("no item from the sector '{title}' ({sector}), which sources.yaml calls essential; "
            "promote one from 'runners_up'")),
        ("theme", s.coverage.essential_themes, themes, config.taxonomy.themes,
         N_("no item on the theme '{title}' ({theme}), which sources.yaml calls essential; "
            "promote one from 'runners_up'")),
    )  # fmt: skip
    for kind, essential, present, titles, message in essentials:
        for key in essential:
            if key not in present:
                why = _(message).format(title=titles[key].title, **{kind: key})
                out.append(Problem(issue.path, line, why, "warning"))
    n = len(entries)
    if n >= 2:
        share = f"{s.coverage.max_share:.0%}"
        too_many = (
            (N_("{k} of {n} items are from the partner '{name}', more than {share}; look for others in "
                "'runners_up'"), partners),
            (N_("{k} of {n} items are from the province '{name}', more than {share}; look for others in "
                "'runners_up'"), provinces),
        )  # fmt: skip
        for message, counts in too_many:
            for key, k in sorted(counts.items()):
                if k > s.coverage.max_share * n:
                    name = key.removeprefix("source:")
                    text = _(message).format(k=k, n=n, name=name, share=share)
                    out.append(Problem(issue.path, line, text, "warning"))
    if not lived:
        out.append(Problem(issue.path, line, _("no item involves people with lived experience "
                           "(ervaringsdeskundigen); consider promoting one"), "warning"))  # fmt: skip
    return out


def check_issue(
    config: Config, store: Store, issue_id: str, *, links: bool = False
) -> tuple[Issue | None, list[Problem]]:
    """The structure check and ``check`` together: what ``newsletter check`` prints."""
    path = issue_path(config.root, issue_id)
    shown = display_path(path, config.root)
    if not path.exists():
        raise NotFound(
            _("no issue '{issue}': {path} does not exist").format(issue=issue_id, path=shown),
            _("run 'newsletter draft {issue}'").format(issue=issue_id),
        )
    issue, problems = check_issue_file(path, config, shown)
    if issue is None:
        return None, sorted(problems)
    return issue, sorted([*problems, *check(config, store, issue, links=links)])
