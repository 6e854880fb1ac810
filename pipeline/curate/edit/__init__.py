"""Curation edits of an issue file: what an editor does by hand, done by the program, byte for byte.

Each edit is a function from the file's text to the new text: add a candidate to a section,
remove an entry, move one (reorder, to another section, promote a runner-up, back to the
runners-up), set the subject, preheader, intro or ``send_at`` (one, or those of a form that
differ from the file), and give an entry its own title or summary. The studio writes nothing
else, and nothing in another way.

Like the program's other writes (``pipeline.domain.issues``), every edit is a splice: ruamel.yaml
(a round-trip parser) finds where things are, and only the lines of what changes are cut,
pasted or replaced. Comments, blank lines and every untouched line stay byte for byte, so
``git diff`` shows exactly the change. An entry moves with the comment lines above it (they
describe it, as the draft writes them). Each result is read back and compared, value by value,
with the same change made to the parsed file; an edit that cannot be made that way (a section
written on one line, say) is refused with the fix, and the file is left as it was.

``apply`` is the one way such an edit reaches the disk: it refuses when the file is not the
version the editor's page was built from (someone saved it in the meantime), then writes
atomically.

The modules: ``splices`` (where things are in the lines, cut and paste, a value as YAML lines, and
the read-back check), ``fields`` (the top-level fields: ``set_field``, ``set_fields``), ``entries``
(``add_entry``, ``remove_entry``, ``move_entry``, ``set_entry_text``) and ``write`` (``apply``,
``version``).
"""

from pipeline.curate.edit.entries import ENTRY_TEXT, add_entry, move_entry, remove_entry, set_entry_text
from pipeline.curate.edit.fields import CONTROL, FIELDS, SEND_AT_YEARS, set_field, set_fields
from pipeline.curate.edit.splices import LISTS, EditRefused, Place
from pipeline.curate.edit.write import FileChanged, apply, version

__all__ = [
    "CONTROL",
    "ENTRY_TEXT",
    "FIELDS",
    "LISTS",
    "SEND_AT_YEARS",
    "EditRefused",
    "FileChanged",
    "Place",
    "add_entry",
    "apply",
    "move_entry",
    "remove_entry",
    "set_entry_text",
    "set_field",
    "set_fields",
    "version",
]
