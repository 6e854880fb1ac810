"""MJML to HTML (mjml-python): the structure checked first, since MRML passes unknown tags through or
fails without saying where; an error shows the MJML lines around the problem."""

from __future__ import annotations

import re

from mjml import mjml2html

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _


class MjmlError(PipelineError):
    "The MJML a template produced could not be compiled; the message shows the MJML lines around it."


_MJ_TAG = re.compile(r"<(/?)(mj-[a-z-]+|mjml)\b([^>]*?)(/?)>")
_MJ_ATTRS = re.compile(r'(?:\s+[A-Za-z][\w:-]*\s*=\s*"[^"]*")*\s*')
MJ_ELEMENTS = frozenset({
    "mjml", "mj-head", "mj-body", "mj-attributes", "mj-all", "mj-class", "mj-breakpoint", "mj-font",
    "mj-preview", "mj-style", "mj-title", "mj-include", "mj-raw", "mj-section", "mj-column", "mj-group",
    "mj-wrapper", "mj-hero", "mj-text", "mj-image", "mj-button", "mj-divider", "mj-spacer", "mj-table",
    "mj-social", "mj-social-element", "mj-navbar", "mj-navbar-link", "mj-accordion",
    "mj-accordion-element", "mj-accordion-title", "mj-accordion-text", "mj-carousel", "mj-carousel-image",
})  # fmt: skip


def _mjml_excerpt(mjml: str, line: int, context: int = 3) -> str:
    lines = mjml.splitlines()
    lo, hi = max(1, line - context), min(len(lines), line + context)
    return "\n".join(f"{'>' if n == line else ' '} {n:4d} | {lines[n - 1]}" for n in range(lo, hi + 1))


def _mjml_structure(mjml: str) -> tuple[int, str] | None:
    """The first unknown, unbalanced or badly written MJML tag, as (line, message); MRML itself
    passes unknown tags through into the HTML, or fails without saying where."""
    stack: list[tuple[str, int]] = []
    line, counted = 1, 0
    for m in _MJ_TAG.finditer(mjml):
        closing, name, attrs, selfclosing = m.groups()
        line += mjml.count("\n", counted, m.start())
        counted = m.start()
        if name not in MJ_ELEMENTS:
            return line, _("unknown MJML element <{name}>").format(name=name)
        if not _MJ_ATTRS.fullmatch(attrs):
            return line, _('<{name}> has a badly written attribute (write them as name="value")').format(
                name=name
            )
        if selfclosing:
            continue
        if not closing:
            stack.append((name, line))
        elif not stack:
            return line, _("</{name}> does not close anything open here (nothing open)").format(name=name)
        elif stack[-1][0] != name:
            return line, _(
                "</{name}> does not close anything open here (<{opened}> opened on line {line})"
            ).format(name=name, opened=stack[-1][0], line=stack[-1][1])
        else:
            stack.pop()
    if stack:
        return stack[-1][1], _("<{name}> is never closed").format(name=stack[-1][0])
    return None


# MRML hides <mj-preview> (the preheader) in white text: on a page that is not white, SpamAssassin
# scores that as text in nearly the background's colour (HTML_FONT_LOW_CONTRAST), display:none or
# not. The same div, hidden without a colour of its own (mso-hide: Outlook's Word engine).
_MRML_PREVIEW = (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;'
    'opacity:0;overflow:hidden;">'
)
_PREVIEW = (
    '<div style="display:none;font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0;'
    'overflow:hidden;mso-hide:all;">'
)


def compile_mjml(mjml: str, template: str = "email.mjml") -> str:
    """MJML to HTML with mjml-python; an error shows the MJML lines around the problem."""
    problem = _mjml_structure(mjml)
    if problem is None:
        try:
            out: str = mjml2html(mjml)
        except Exception as e:  # MRML raises ValueError with a message but no position
            raise MjmlError(
                _("MJML from {template} could not be compiled: {error}").format(template=template, error=e),
                _("check the MJML structure in the template (each mj- element closed, attributes quoted)"),
            ) from None
        if "<mj-" not in out:
            return out.replace(_MRML_PREVIEW, _PREVIEW, 1)
        line = mjml.count("\n", 0, mjml.find("<mj-", mjml.find("<mj-body"))) + 1
        problem = (line, _("MJML element left uncompiled"))
    line, message = problem
    raise MjmlError(
        _("MJML from {template}, line {line}: {problem}").format(
            template=template, line=line, problem=message
        )
        + f"\n{_mjml_excerpt(mjml, line)}",
        _(
            "fix the element in {template} (the line is of the generated MJML; the template's is near it)"
        ).format(template=template),
    )
