"""Checking values that people write in YAML, with messages that say the fix.

A ``Checker`` walks one parsed file and collects every problem (it never stops at the first),
so a partner sees all of them at once. Each check returns the cleaned value or ``None``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pipeline.domain import lenient
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import N_, _
from pipeline.domain.yamldoc import KeyPath, YamlDoc

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+\Z")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_TYPE_NAMES = {
    str: N_("text"), int: N_("a whole number"), bool: N_("true or false"), list: N_("a list"),
    dict: N_("a mapping"),
}  # fmt: skip


def type_name(value: Any) -> str:
    if value is None:
        return _("nothing")
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dt.datetime):
        return _("a date and time")
    if isinstance(value, dt.date):
        return _("a date")
    name = _TYPE_NAMES.get(type(value))
    return _(name) if name else type(value).__name__


def suggest_one(word: str, known: Iterable[str]) -> str:
    """The near miss of ``word`` among ``known`` ('onderwys': 'onderwijs'), else an empty string."""
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return close[0] if close else ""


def listing(known: Iterable[str], limit: int = 12) -> str:
    names = list(known)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


class Checker:
    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    # -- reporting -------------------------------------------------------------------------
    def error(self, kp: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(kp, message))

    def warn(self, kp: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(kp, message, "warning"))

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)

    # -- structure -------------------------------------------------------------------------
    def mapping(
        self,
        kp: KeyPath,
        value: Any,
        allowed: Iterable[str],
        required: Iterable[str] = (),
        what: str | None = None,
    ) -> dict[str, Any] | None:
        """A mapping with only ``allowed`` keys and every ``required`` one; returned with the allowed keys,
        and a key written in Dutch or in capitals under the key it means (reported once, at its line).
        ``what``: the entry in the messages, translated ("a submission"; default "this entry")."""
        what = what or _("this entry")
        if not isinstance(value, dict):
            self.error(
                kp,
                _("{what} should be a mapping of 'key: value' lines, not {type}").format(
                    what=what, type=type_name(value)
                ),
            )
            return None
        allowed = list(allowed)
        required = list(required)
        out: dict[str, Any] = {}
        meant: set[str] = set()  # keys a misspelt one stands for: reported once, at the misspelt key
        for key, item in value.items():
            if not isinstance(key, str):
                self.error(kp, _("key {key!r} should be text").format(key=key))
            elif key in allowed:
                out[key] = item
            else:
                target = self._unknown_key(kp, key, {*value, *out}, allowed, required)
                if target is not None and target not in value:
                    meant.add(target)
                    if target not in out and lenient.meant_key(key, allowed) == target:
                        out[target] = item  # checked as what it means, so that every problem shows at once
                        self.doc.alias((*kp, key), (*kp, target))
        for key in required:
            if out.get(key) in (None, "", [], {}):
                if key in value:
                    self.error((*kp, key), _("'{key}' is empty; it is required").format(key=key))
                elif key not in meant:
                    self.error(kp, _("'{key}' is missing; {what} needs it").format(key=key, what=what))
        return out

    def _unknown_key(
        self, kp: KeyPath, key: str, present: set[Any], allowed: list[str], required: list[str]
    ) -> str | None:
        """Report an unknown key once, with what to rename it to; return the key it stands for, if any
        (``present``: the keys the entry has, as written or as read)."""
        target = lenient.meant_key(key, allowed)
        if target is not None:
            if target in present:
                line = self.doc.line(*kp, target)
                self.error((*kp, key), _("unknown key '{key}': it means '{target}', which is on line {line} "
                           "too; keep one").format(key=key, target=target, line=line))  # fmt: skip
            elif key.strip().casefold() == target:
                self.error((*kp, key), _("unknown key '{key}': write it as '{target}' (keys are lower case)")
                           .format(key=key, target=target))  # fmt: skip
            else:
                message = _("unknown key '{key}': rename it to '{target}' (the keys are English)")
                self.error((*kp, key), message.format(key=key, target=target))
            return target
        nested = lenient.nested_key(key, allowed)
        if nested is not None:
            self.error((*kp, key), _("unknown key '{key}': a number reached goes under 'reach:', as "
                       "'{nested}' (reach: {{{nested}: 120}})").format(key=key, nested=nested))  # fmt: skip
            return None
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        known = listing(allowed, 30)
        if close:
            message = _("unknown key '{key}': did you mean '{close}'? Known keys: {known}")
        else:
            message = _("unknown key '{key}': Known keys: {known}")
        self.error((*kp, key), message.format(key=key, close=close[0] if close else "", known=known))
        return close[0] if close and close[0] in required else None

    def seq(self, kp: KeyPath, value: Any, what: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.error(
            kp,
            _("{what} should be a list ('- item' lines), not {type}").format(
                what=what, type=type_name(value)
            ),
        )
        return []

    # -- scalars ---------------------------------------------------------------------------
    def text(
        self, kp: KeyPath, value: Any, *, max_len: int | None = None, what: str | None = None
    ) -> str | None:
        if value is None:
            return None
        name = what or str(kp[-1])
        if isinstance(value, bool | dict | list):
            self.error(kp, _("'{name}' should be text, not {type}").format(name=name, type=type_name(value)))
            return None
        text = str(value).strip()
        if max_len and len(text) > max_len:
            self.error(
                kp,
                _("'{name}' is {n} characters; shorten it to at most {max}").format(
                    name=name, n=len(text), max=max_len
                ),
            )
        return text

    def ident(self, kp: KeyPath, value: Any) -> str | None:
        text = self.text(kp, value)
        if text is not None and not ID_RE.match(text):
            self.error(
                kp,
                _(
                    "id '{text}' should be lower-case letters, digits, '-' or '_' (e.g. 'gemeente-utrecht')"
                ).format(text=text),
            )
            return None
        return text

    def boolean(self, kp: KeyPath, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.error(kp, _("'{key}' should be true or false, not {value!r}").format(key=kp[-1], value=value))
        return None

    def integer(self, kp: KeyPath, value: Any, minimum: int | None = None) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(
                kp, _("'{key}' should be a whole number, not {value!r}").format(key=kp[-1], value=value)
            )
            return None
        if minimum is not None and value < minimum:
            self.error(kp, _("'{key}' should be at least {minimum}").format(key=kp[-1], minimum=minimum))
            return None
        return value

    def url(self, kp: KeyPath, value: Any, *, local_ok: bool = False) -> str | None:
        text = self.text(kp, value)
        if text is None:
            return None
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018  raises ValueError for a port that is not a number
        except ValueError:
            self.error(
                kp,
                _("'{text}' is not a valid web address; check the host, its brackets and the port").format(
                    text=text
                ),
            )
            return None
        if parts.scheme in ("http", "https") and parts.netloc and " " not in text:
            return text
        if local_ok and not parts.scheme:
            return text  # a local file path, resolved against the instance folder
        if not parts.scheme:
            self.error(
                kp,
                _("'{text}' is not a web address; write it in full, starting with https://").format(
                    text=text
                ),
            )
        else:
            self.error(
                kp,
                _("'{text}' is not an http(s) address; only https:// and http:// links are allowed").format(
                    text=text
                ),
            )
        return None

    def email(self, kp: KeyPath, value: Any) -> str | None:
        text = self.text(kp, value)
        if text is not None and not EMAIL_RE.match(text):
            self.error(kp, _("'{text}' is not an email address (name@example.nl)").format(text=text))
            return None
        return text

    def ref(self, kp: KeyPath, value: Any, known: Mapping[str, Any], what: str) -> str | None:
        """An id that must be one of ``known`` (a registry or a taxonomy list). The id in other capitals
        or spacing, or the display name (a term's title, a partner's name), is read as the id."""
        text = self.text(kp, value)
        if text is None:
            return None
        if not known:
            return None  # the list itself is missing or broken, which is reported on its own
        if text in known:
            return text
        found = lenient.matching_ids(text, known)
        if len(found) == 1:
            return found[0]
        unknown, unknown_near, ambiguous = _REF_MESSAGES.get(what, _REF_MESSAGES[""])
        if found:
            first, second = "', '".join(found[:-1]), found[-1]
            self.error(kp, _(ambiguous).format(value=text, what=what, first=first, second=second))
            return None
        close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
        message = _(unknown_near) if close else _(unknown)
        self.error(
            kp, message.format(value=text, what=what, close=close[0] if close else "", known=listing(known))
        )
        return None

    def refs(self, kp: KeyPath, value: Any, known: Mapping[str, Any], what: str) -> tuple[str, ...]:
        if isinstance(value, str):
            # "themes: onderwijs" is a list of one; "themes: meedoen, onderwijs" a list of two
            whole = "," not in value or value in known or len(lenient.matching_ids(value, known)) == 1
            value = [value] if whole else [v for v in value.split(",") if v.strip()]
        out = []
        for i, v in enumerate(self.seq(kp, value, f"'{kp[-1]}'")):
            r = self.ref((*kp, i), v, known, what)
            if r and r not in out:
                out.append(r)
        return tuple(out)

    def when(self, kp: KeyPath, value: Any, tz: ZoneInfo, *, what: str | None = None) -> dt.datetime | None:
        """A date, or a date and time; without a zone it is read in the instance's zone. Besides
        2026-11-12 (19:30), the Dutch 12-11-2026, 12/11/2026 and 12 november 2026 (om 19:30)."""
        if value is None:
            return None
        name = what or str(kp[-1])
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=tz)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
        if isinstance(value, str):
            text = value.strip().replace(" ", "T", 1)
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError as e:
                if re.match(r"^\d{4}-\d{2}-\d{2}", text) and "range" in str(e):
                    self.error(
                        kp,
                        _("'{name}' is not a real date: {value} ({reason}); check the day and month").format(
                            name=name, value=value, reason=_date_reason(e)
                        ),
                    )
                    return None
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
            try:
                dutch = lenient.dutch_date(value)
            except lenient.NotARealDate as e:
                message = _(
                    "'{name}' is not a real date: {value} ({reason}); check the day and month "
                    "(the day comes first)"
                )
                self.error(kp, message.format(name=name, value=value.strip(), reason=_date_reason(e)))
                return None
            if dutch is not None:
                day, at = dutch
                return dt.datetime.combine(day, at or dt.time(), tzinfo=tz)
        message = _(
            "'{name}' should be a date like 10-12-2026 or a date and time like 10-12-2026 19:30, "
            "not {value!r}"
        )
        self.error(kp, message.format(name=name, value=value))
        return None


# Why a date is not a real one, in the words of Python's datetime (English) and in the reader's.
_DATE_REASONS = {
    "day is out of range for month": N_("day is out of range for month"),
    "month must be in 1..12": N_("month must be in 1..12"),
    "hour must be in 0..23": N_("hour must be in 0..23"),
    "minute must be in 0..59": N_("minute must be in 0..59"),
}


def _date_reason(error: Exception) -> str:
    reason = str(error)
    known = _DATE_REASONS.get(reason)
    return _(known) if known else reason


# What an unknown id is called, by the list it should be in: (unknown, unknown with a near miss, more than
# one id matches). One whole sentence each, since the Dutch words for them differ in gender.
_REF_MESSAGES: dict[str, tuple[str, str, str]] = {
    "partner": (
        N_("unknown partner '{value}': Known partners: {known}"),
        N_("unknown partner '{value}': did you mean '{close}'? Known partners: {known}"),
        N_("'{value}' could be the partner '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "theme": (
        N_("unknown theme '{value}': Known themes: {known}"),
        N_("unknown theme '{value}': did you mean '{close}'? Known themes: {known}"),
        N_("'{value}' could be the theme '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "kind": (
        N_("unknown kind '{value}': Known kinds: {known}"),
        N_("unknown kind '{value}': did you mean '{close}'? Known kinds: {known}"),
        N_("'{value}' could be the kind '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "province": (
        N_("unknown province '{value}': Known provinces: {known}"),
        N_("unknown province '{value}': did you mean '{close}'? Known provinces: {known}"),
        N_("'{value}' could be the province '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "horizon": (
        N_("unknown horizon '{value}': Known horizons: {known}"),
        N_("unknown horizon '{value}': did you mean '{close}'? Known horizons: {known}"),
        N_("'{value}' could be the horizon '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "section": (
        N_("unknown section '{value}': Known sections: {known}"),
        N_("unknown section '{value}': did you mean '{close}'? Known sections: {known}"),
        N_("'{value}' could be the section '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "sector": (
        N_("unknown sector '{value}': Known sectors: {known}"),
        N_("unknown sector '{value}': did you mean '{close}'? Known sectors: {known}"),
        N_("'{value}' could be the sector '{first}' or '{second}'; write the id of the one you mean"),
    ),
    "": (  # a list without messages of its own: English only
        "unknown {what} '{value}': Known: {known}",
        "unknown {what} '{value}': did you mean '{close}'? Known: {known}",
        "'{value}' could be the {what} '{first}' or '{second}'; write the id of the one you mean",
    ),
}
