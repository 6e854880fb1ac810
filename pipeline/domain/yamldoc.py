"""YAML that people write, parsed safely and with line numbers (reading the file: pipeline.infra.yamlfile).

``parse`` turns a file's text into plain Python values plus a map from each key path to its line,
so that validation can say ``submissions/fiets.yaml:7: unknown theme ...``. It refuses, with one
clear problem and never a traceback: text over the size limit, bytes that are not UTF-8, syntax
errors (with the line), empty files, several documents in one file, aliases (the "billion
laughs" attack) and duplicate keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.domain.errors import InputInvalid, Problem
from pipeline.domain.i18n import _, ngettext

MAX_BYTES = 1_000_000  # a story is a few kilobytes; sources.yaml of 300 partners is ~100 kB

KeyPath = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """A parsed file: its data, the line of every key and list element, and its text (for the
    checks that point into a multi-line text, or read a comment on a line)."""

    path: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    source: str = field(default="", repr=False)

    def line(self, *keypath: str | int) -> int | None:
        """The line of ``keypath``, or of its nearest ancestor that has one."""
        kp: KeyPath = tuple(keypath)
        while kp:
            if kp in self.lines:
                return self.lines[kp]
            kp = kp[:-1]
        return self.lines.get((), 1)

    def alias(self, written: KeyPath, meant: KeyPath) -> None:
        """Give ``meant`` and everything under it the lines of ``written`` (a key written in Dutch
        that is checked as the key it means)."""
        n = len(written)
        for kp, line in list(self.lines.items()):
            if kp[:n] == written:
                self.lines[(*meant, *kp[n:])] = line

    def problem(self, keypath: KeyPath, message: str, severity: str = "error") -> Problem:
        return Problem(self.path, self.line(*keypath), message, severity)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: a partner's story never needs one."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                _("YAML aliases (*name) are not allowed; write the value out in full"),
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _Constructor(yaml.SafeLoader):
    """Keeps an impossible date (2026-11-31) as text, so that it is reported with its line
    beside every other problem instead of failing the whole file."""

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return str(node.value)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _walk(doc: YamlDoc, node: Node, kp: KeyPath, problems: list[Problem]) -> None:
    doc.lines.setdefault(kp, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        doc.path,
                        line,
                        _("'{key}' appears twice (first on line {first}); keep one").format(
                            key=key, first=seen[key]
                        ),
                    )
                )
            seen[key] = line
            doc.lines[(*kp, key)] = line
            _walk(doc, value_node, (*kp, key), problems)
            doc.lines[(*kp, key)] = line  # the key's line, not the value's
    elif isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            _walk(doc, child, (*kp, i), problems)


def _reuses_a_node(root: Node) -> bool:
    """Whether a node appears twice: how an alias (*name) looks once libyaml has composed it."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, MappingNode):
            todo.extend(n for pair in node.value for n in pair)
        elif isinstance(node, SequenceNode):
            todo.extend(node.value)
    return False


def _compose_fast(text: str) -> list[Node] | None:
    """The document's nodes through libyaml (ten times PyYAML's speed on a sources.yaml of 300
    partners), or None when the text needs the careful path: any error, an alias, several documents.
    The careful path then says what is wrong in the words and lines the checks are written for."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    loader = yaml.CSafeLoader(text)
    nodes: list[Node] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    if len(nodes) > 1 or any(_reuses_a_node(n) for n in nodes):
        return None
    return nodes


def parse(text: str | bytes, path: str, *, max_bytes: int = MAX_BYTES) -> YamlDoc:
    """Parse YAML text; raise InputInvalid with one clear problem when it cannot be read."""

    def fail(message: str, line: int | None = None) -> InputInvalid:
        return InputInvalid([Problem(path, line, message)])

    if len(text) > max_bytes:
        message = _("file is {size} bytes, over the limit of {limit}; is this the right file?")
        raise fail(message.format(size=f"{len(text):,}", limit=f"{max_bytes:,}"))
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise fail(
                _("not UTF-8 text; save the file as UTF-8 (in most editors: Save As, encoding UTF-8)"), line
            ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    fast = _compose_fast(text)
    nodes = fast if fast is not None else _compose(text, fail)
    if not nodes or (
        isinstance(nodes[0], ScalarNode) and nodes[0].value == "" and nodes[0].tag.endswith("null")
    ):
        raise fail(_("file is empty; see docs/formats.md for an example"))
    node = nodes[0]
    try:
        constructor = _Constructor("")
        data = constructor.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise fail(
            _("not valid YAML: {reason}").format(reason=e.problem), mark.line + 1 if mark else None
        ) from None
    except (ValueError, TypeError) as e:  # e.g. an impossible date such as 2026-02-30
        raise fail(_("a value cannot be read: {reason}").format(reason=e)) from None
    doc = YamlDoc(path, data, source=text)
    problems: list[Problem] = []
    _walk(doc, node, (), problems)
    doc.lines[()] = 1
    if problems:
        raise InputInvalid(problems)
    return doc


def _compose(text: str, fail: Callable[..., InputInvalid]) -> list[Node]:
    """The careful path: PyYAML's own composer, which refuses aliases and names every problem's line."""
    loader = _NoAliasLoader(text)
    try:
        nodes: list[Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
            if len(nodes) > 1:
                raise fail(
                    _("holds more than one YAML document ('---'); put one story in each file"),
                    nodes[1].start_mark.line + 1,
                )
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = mark.line + 1 if mark else None
        reason = e.problem or e.context or "invalid YAML"
        misplaced = _misindented(text, at) if at and "\t" not in text else None
        if misplaced is not None:
            at, message = misplaced
        elif "mapping values are not allowed" in reason:
            message = _(
                "not valid YAML: {reason}; a value containing ': ' must be put in quotes "
                "(the rest of the file is checked once this is fixed)"
            ).format(reason=reason)
        elif "found character '\\t'" in reason or "tab" in reason:
            message = _(
                "not valid YAML: {reason}; indent with spaces, not tabs "
                "(the rest of the file is checked once this is fixed)"
            ).format(reason=reason)
        else:
            message = _(
                "not valid YAML: {reason} (the rest of the file is checked once this is fixed)"
            ).format(reason=reason)
        raise fail(message, at) from None
    except yaml.YAMLError as e:
        raise fail(_("not valid YAML: {reason}").format(reason=e)) from None
    finally:
        loader.dispose()
    return nodes


_KEY = r"[^\s#'\"{\[-][^:#]*?|'[^']*'|\"[^\"]*\""  # a plain key, or one in quotes
_KEY_LINE = re.compile(rf"^(?P<indent> *)(?P<dash>- +)?(?P<key>{_KEY}):(?: |$)")


_BLOCK = re.compile(r":\s+[|>][-+0-9]*\s*(?:#.*)?$")


def _misindented(text: str, at: int) -> tuple[int, str] | None:
    """When a syntax error at line ``at`` comes from a line indented differently from the lines above
    it (a stray space), the line and what to do; None when the indentation is not the cause."""
    keys: dict[int, tuple[int, str, int | None]] = {}  # line -> (key column, key, column of its '-')
    block: int | None = None  # in a text block (key: |), the column of its key, then of its text
    block_text = False
    for n, raw in enumerate(text.splitlines(), start=1):
        indent = len(raw) - len(raw.lstrip(" "))
        if block is not None and raw.strip() and not block_text and indent > block:
            block, block_text = indent, True  # the text's first line sets where its lines start
        if block is not None and (not raw.strip() or (block_text and indent >= block)):
            continue  # a line of the text, however it looks
        block, block_text = None, False
        found = _KEY_LINE.match(raw)
        if found:
            dash = len(found["indent"]) if found["dash"] else None
            keys[n] = (len(found["indent"]) + len(found["dash"] or ""), found["key"].strip(), dash)
            if _BLOCK.search(raw):
                block = keys[n][0]
        if n >= at:
            break
    first = min(keys, default=None)
    if first is not None and keys[first][0] > 0 and keys[first][2] is None:
        column, key, _dash = keys[first]
        message = ngettext(
            "line {line} starts with a space: start '{key}:' at the beginning of the line "
            "(the rest of the file is checked once this is fixed)",
            "line {line} starts with {n} spaces: start '{key}:' at the beginning of the line "
            "(the rest of the file is checked once this is fixed)",
            column,
        )
        return first, message.format(line=first, n=column, key=key)
    if at not in keys:
        return None
    column, key, dash = keys[at]
    above = [n for n in keys if n < at]
    if not above:
        return None
    if dash is not None:  # a list item: its '-' lines up with the one above
        items = [n for n in above if keys[n][2] is not None]
        if items and keys[items[-1]][2] != dash:
            other = items[-1]
            message = _(
                "line {line} is indented differently from the lines above it: start its '-' at the same "
                "place as the '-' on line {other} (the rest of the file is checked once this is fixed)"
            )
            return at, message.format(line=at, other=other)
        return None
    previous = above[-1]
    if keys[previous][0] == column:
        return None
    opened = text.splitlines()[previous - 1].rstrip().endswith(":")  # a key whose value follows below
    if opened and column > keys[previous][0]:
        return None
    other_key = keys[previous][1]
    message = _(
        "line {line} is indented differently from the lines above it: start '{key}:' at the same place as "
        "'{other_key}:' on line {other} (the rest of the file is checked once this is fixed)"
    )
    return at, message.format(line=at, key=key, other_key=other_key, other=previous)
