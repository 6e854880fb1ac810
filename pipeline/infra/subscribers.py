"""The subscriber list: a CSV file (personal data, never in git), read as a stream.

Tolerant of what spreadsheets produce: a UTF-8 byte-order mark, ``;`` or ``,`` between fields,
any case and spacing in the header. Addresses are compared lower-cased. Every bad row becomes a
problem naming its line, never its content: addresses are never printed or logged, only counted.
Duplicates are left for the caller to drop (the ledger's primary key does it without holding the
whole list in memory).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.domain.errors import InputInvalid, NotFound, Problem, display_path
from pipeline.domain.i18n import N_, _

# Deliberately simple: it catches typos ("jan.example.org", "a@b", spaces), not every RFC 5321 corner;
# control characters (a NUL from a forged form) are never part of an address.
_EMAIL_RE = re.compile(
    r"^[^@\s,;:<>()\[\]\"'\x00-\x1f\x7f]+@[^@\s,;:<>()\[\]\"'\x00-\x1f\x7f]+\.[A-Za-z0-9-]{2,}$"
)
_NOT_UTF8 = N_("not UTF-8 text; export the list as 'CSV UTF-8' (in Excel: Save As, CSV UTF-8)")
_ALIASES = {
    "e-mail": "email", "emailadres": "email", "e-mailadres": "email", "naam": "name",
    "organisatie": "organisation", "provincie": "province",
}  # fmt: skip


@dataclass(frozen=True)
class Subscriber:
    email: str  # lower-cased
    name: str | None
    line: int
    organisation: str | None = None
    province: str | None = None


@dataclass
class SubscriberReader:
    """Iterate over the valid rows of one CSV file; ``problems`` fills up as rows are read."""

    path: Path
    display: str
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0  # data rows read, valid or not

    def __iter__(self) -> Iterator[Subscriber]:
        for email, name, line, extra in self._rows(with_extra=True):
            yield Subscriber(email, name, line, extra.get("organisation"), extra.get("province"))

    def pairs(self) -> Iterator[tuple[str, str | None]]:
        """(email, name) of every valid row: the cheap form, for lists of 100,000."""
        for email, name, _line, _extra in self._rows(with_extra=False):
            yield email, name

    def _rows(self, *, with_extra: bool) -> Iterator[tuple[str, str | None, int, dict[str, str]]]:
        if not self.path.exists():
            raise NotFound(
                _("the subscriber list {path} does not exist").format(path=self.display),
                _("export it as CSV with an 'email' column, or set newsletter.subscribers in sources.yaml"),
            )
        reader: Any = None  # set once the header is read, for the line of a CSV error
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as f:
                first = f.readline()
                delimiter = ";" if first.count(";") > first.count(",") else ","
                header = [
                    _ALIASES.get(h.strip().lower(), h.strip().lower())
                    for h in next(csv.reader([first], delimiter=delimiter), [])
                ]
                if "email" not in header:
                    raise InputInvalid(
                        [
                            Problem(
                                self.display,
                                1,
                                _("the first line needs an 'email' column (separated by ';' or ',')"),
                            )
                        ]
                    )
                col_email = header.index("email")
                col_name = header.index("name") if "name" in header else None
                wanted = ("organisation", "province") if with_extra else ()
                extras: dict[str, int] = {k: header.index(k) for k in wanted if k in header}
                reader = csv.reader(f, delimiter=delimiter)
                match = _EMAIL_RE.match
                for row in reader:
                    line = reader.line_num + 1  # +1: the header was read before the reader started
                    if not "".join(row).strip():  # a blank line, or only separators
                        continue
                    self.rows += 1
                    email = row[col_email].strip().lower() if col_email < len(row) else ""
                    if not match(email):
                        if email:
                            why = _("the email column is not a valid address; correct or remove this row")
                        else:
                            why = _("the email column is empty; correct or remove this row")
                        self.problems.append(Problem(self.display, line, why, "warning"))
                        continue
                    name = row[col_name].strip() if col_name is not None and col_name < len(row) else ""
                    extra: dict[str, str] = {
                        k: row[i].strip() for k, i in extras.items() if i < len(row) and row[i].strip()
                    }
                    yield email, name or None, line, extra
        except UnicodeDecodeError:
            raise InputInvalid([Problem(self.display, _undecodable_line(self.path), _(_NOT_UTF8))]) from None
        except csv.Error as e:
            line = reader.line_num + 1 if reader is not None else 1
            raise InputInvalid(
                [
                    Problem(
                        self.display,
                        line,
                        _("cannot be read as CSV ({error}); correct or remove this row").format(error=e),
                    )
                ]
            ) from None


def _undecodable_line(path: Path) -> int:
    """The first line that is not UTF-8; the text reader only knows an offset in its buffer."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def read_subscribers(path: Path, root: Path | None = None) -> SubscriberReader:
    return SubscriberReader(path, display_path(path, root))


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value.strip()))
