"""The studio's edit forms turned into changes of the issue file: the header's fields, and an entry
added, removed, moved, promoted, demoted or given its own text (through ``pipeline.curate.edit``)."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.curate import edit
from pipeline.curate import entry_lines as draft_entry_lines
from pipeline.domain.i18n import N_, _
from pipeline.studio.workspace import Workspace

# The header form's fields as a note names them (translated where used).
FIELD_NAMES = {
    "subject": N_("subject"),
    "preheader": N_("preheader"),
    "intro": N_("intro"),
    "send_at": N_("send time"),
}


def fields_change(ws: Workspace, f: dict[str, str], shown: str) -> tuple[Callable[[str], str], list[str]]:
    """The header form's change (only the fields that differ from the file), and the list that
    holds the keys it changed once it is made."""
    values = {k: f[k] for k in edit.FIELDS if k in f}
    tz = ws.config.settings.timezone
    changed: list[str] = []

    def make(t: str) -> str:
        new, keys = edit.set_fields(t, shown, values, tz=tz)
        changed[:] = keys
        return new

    return make, changed


def entry_change(ws: Workspace, f: dict[str, str], shown: str) -> tuple[Callable[[str], str], str, str]:
    """The change a form asks for, what to say when it is done, and where on the page to go back to."""
    op = f.get("op", "")
    tz = ws.config.settings.timezone
    if op == "field":
        key = f.get("field", "")
        return (
            (lambda t: edit.set_field(t, shown, key, f.get("value"), tz=tz)),
            _("Saved: {names}.").format(names=_(FIELD_NAMES.get(key, key))),
            "fields",
        )
    section = f.get("section", "")
    which = f.get("list", "items")
    expect = f.get("expect") or None
    if op == "add":
        item_id = f.get("item", "")
        found = next((c for c in ws.candidates(ws.clock()) if c.item.id == item_id), None)
        if found is None:
            raise edit.EditRefused(
                _("item '{item}' is not a candidate now").format(item=item_id), _("reload the page")
            )
        lines = draft_entry_lines(ws.config, found)
        return (
            (lambda t: edit.add_entry(t, shown, section, lines, list=which)),
            _("Added '{title}' to {section}.").format(title=found.item.title, section=section),
            f"section-{section}",
        )
    index = _int(f.get("index"))
    place = edit.Place(section, which, index)
    if op == "remove":
        return (
            (lambda t: edit.remove_entry(t, shown, place, expect=expect)),
            _("Removed the entry."),
            f"section-{section}",
        )
    if op in ("up", "down"):
        to = index - 1 if op == "up" else index + 1
        return (
            (lambda t: edit.move_entry(t, shown, place, section, which, max(to, 0), expect=expect)),
            _("Moved the entry."),
            f"section-{section}",
        )
    if op == "move":
        target, _sep, to_list = f.get("to", "").partition(":")
        to_list = to_list or "items"
        if (target, to_list) == (section, which):  # the menu starts at the entry's own place
            return (lambda t: t), _("Nothing moved: the entry is there already."), f"section-{section}"
        return (
            (lambda t: edit.move_entry(t, shown, place, target, to_list, None, expect=expect)),
            (
                _("Moved the entry to {section} (items).")
                if to_list == "items"
                else _("Moved the entry to {section} (runners-up).")
            ).format(section=target),
            f"section-{target}",
        )
    if op == "promote":
        return (
            (lambda t: edit.move_entry(t, shown, place, section, "items", None, expect=expect)),
            _("Promoted the runner-up into the items."),
            f"section-{section}",
        )
    if op == "demote":
        return (
            (lambda t: edit.move_entry(t, shown, place, section, "runners_up", 0, expect=expect)),
            _("Moved the entry to the runners-up."),
            f"section-{section}",
        )
    if op == "text":

        def make(t: str) -> str:
            t = edit.set_entry_text(t, shown, place, "title", f.get("title"), expect=expect)
            return edit.set_entry_text(t, shown, place, "summary", f.get("summary"), expect=expect)

        return make, _("Saved the entry's own text."), f"section-{section}"
    raise edit.EditRefused(_("unknown action '{op}'").format(op=op), _("use the page's buttons"))


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise edit.EditRefused(_("the form sent no entry number"), _("use the page's buttons")) from None
