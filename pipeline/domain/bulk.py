"""What Gmail and Yahoo ask of bulk senders (since February 2024), checked on the rendered message.

A pure function over the rendered issue (``Rendered``, with its per-recipient tokens), the settings
and the headers a list send carries (``tokens.list_headers``); ``pipeline.run.check`` calls it for
``newsletter check``. docs/plain-language.md says where each rule comes from. Errors are what the
mailbox providers require (one-click unsubscribe, a visible unsubscribe link) and the law (the
postal address); warnings are what makes a message read well in an inbox (a subject that fits, a
preheader, a message Gmail does not clip).
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping

from pipeline.domain.config import Settings
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import N_, _
from pipeline.domain.models import Rendered
from pipeline.domain.tokens import ONE_CLICK, TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE

SUBJECT_MAX = 60  # mail apps cut subjects at about this many characters
GMAIL_CLIP_BYTES = 102 * 1024  # Gmail shows "[Message clipped]" and hides the rest (footer included)
GMAIL_WARN_BYTES = 90 * 1024
# SendGrid's click tracking rewrites every http(s) link of the HTML into its own address, which
# redirects to the original: https://u1234567.ct.sendgrid.net/ls/click?upn=... Two such links from
# real messages are 386 and 415 bytes: 47 bytes of address, the original encoded (about 1.4 times
# its length, base64 with its '+', '/' and '=' escaped) and about 230 bytes of SendGrid's own data.
TRACKED_LINK_BYTES = 280  # the part of a tracked link that does not depend on the original
TRACKED_LINK_FACTOR = 1.4  # the original address, encoded
# SendGrid fills the unsubscribe and preferences tags with its own addresses of about this length.
ASM_LINK_BYTES = 300

# An anchor, its attributes (quoted values may hold '>': SendGrid's tags do) and its content.
_ANCHOR = re.compile(r"""<a\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)</a>""", re.S | re.I)
_HREF = re.compile(r'\bhref="([^"]*)"', re.I)
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])", re.I)
_TAG = re.compile(r"<[^>]+>")
_UNSUBSCRIBE_WORDS = re.compile(r"unsubscribe|afmeld|uitschrijv", re.I)


def tracked_size(markup: str) -> int:
    """The HTML's size in bytes once SendGrid has filled its links: each tracked link and each
    unsubscribe or preferences tag in its place (an estimate; see TRACKED_LINK_BYTES)."""
    size = len(markup.encode("utf-8"))
    for m in _ANCHOR.finditer(markup):
        attrs = m.group(1)
        href = _HREF.search(attrs)
        if (
            href
            and href.group(1).lower().startswith(("http://", "https://"))
            and "clicktracking" not in attrs
        ):
            original = len(href.group(1))
            size += TRACKED_LINK_BYTES + round((TRACKED_LINK_FACTOR - 1) * original)
    for token in (TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES):
        size += markup.count(token) * (ASM_LINK_BYTES - len(token))
    return size


def _visible_text(fragment: str) -> str:
    return " ".join(htmllib.unescape(_TAG.sub(" ", fragment)).split())


def _unsubscribe_link(markup: str) -> bool:
    """A link to unsubscribe that a reader can see: SendGrid's tag (or an address that says it
    unsubscribes) with text, not hidden by its own style."""
    for m in _ANCHOR.finditer(markup):
        href = _HREF.search(m.group(1))
        target = htmllib.unescape(href.group(1)) if href else ""
        unsubscribes = target == TOKEN_UNSUBSCRIBE or _UNSUBSCRIBE_WORDS.search(target)
        if unsubscribes and _visible_text(m.group(2)) and not _HIDDEN.search(m.group(1)):
            return True
    return False


def _has_address(text: str, part: str) -> bool:
    """Whether ``text`` shows ``part`` (the postal address, the preheader), whitespace and case aside."""
    return " ".join(part.split()).casefold() in " ".join(text.split()).casefold()


def check_fields(
    subject: str | None, preheader: str | None, *, path: str, lines: Mapping[str, int]
) -> list[Problem]:
    """The two rules an inbox shows first: a subject that fits, and a preheader."""
    out = []
    if subject and len(subject) > SUBJECT_MAX:
        message = _("the subject is {n} characters; mail apps cut it at about {max}, so shorten it")
        out.append(Problem(path, lines.get("subject", 1), message.format(n=len(subject), max=SUBJECT_MAX),
                           "warning"))  # fmt: skip
    if not preheader:
        message = _("no preheader; write 'preheader: ...', the line mail apps show after the subject")
        out.append(Problem(path, lines.get("preheader", 1), message, "warning"))
    return out


def check_message(
    rendered: Rendered,
    settings: Settings,
    headers: Mapping[str, str],
    *,
    path: str,
    lines: Mapping[str, int],
) -> list[Problem]:
    """What Gmail and Yahoo ask of a bulk sender's message, on the issue as it will be sent.

    ``headers`` are the ones a list send carries; ``path`` and ``lines`` (the line of ``subject``
    and ``preheader``) say where a problem is. A problem of the templates has no line: its message
    names the template.
    """
    found = [
        *_one_click(settings, headers),
        *_unsubscribe_links(rendered),
        *_postal_address_and_preheader(rendered, settings),
        *_size(rendered),
    ]
    out = check_fields(rendered.subject, rendered.preheader, path=path, lines=lines)
    return out + [Problem(path, None, message, severity) for message, severity in found]


Found = list[tuple[str, str]]  # (message, severity) of a problem of the whole message


def _one_click(settings: Settings, headers: Mapping[str, str]) -> Found:
    """The one-click unsubscribe headers, and the group SendGrid fills their address from."""
    listed = headers.get("List-Unsubscribe", "")
    addresses = [
        a.strip()[1:-1] for a in listed.split(",") if a.strip().startswith("<") and a.strip().endswith(">")
    ]
    one_click = [a for a in addresses if a == TOKEN_UNSUBSCRIBE or a.lower().startswith("https://")]
    if not one_click or headers.get("List-Unsubscribe-Post") != ONE_CLICK:
        message = _(
            "the message has no one-click unsubscribe (List-Unsubscribe with an https address and "
            "List-Unsubscribe-Post: {value}); Gmail and Yahoo require it of bulk senders"
        ).format(value=ONE_CLICK)
        return [(message, "error")]
    if TOKEN_UNSUBSCRIBE in listed and settings.sendgrid.unsubscribe_group is None:
        message = _(
            "sources.yaml has no newsletter.sendgrid.unsubscribe_group, so SendGrid leaves the one-click "
            "unsubscribe address empty and refuses the list send; set it to the group's id (SendGrid > "
            "Suppressions > Unsubscribe Groups)"
        )
        return [(message, "warning")]
    return []


def _unsubscribe_links(rendered: Rendered) -> Found:
    """A visible unsubscribe link in the HTML, and one in the text part."""
    text_links = re.findall(r"(?:https?|mailto):\S+", rendered.text)
    checks = (
        (_unsubscribe_link(rendered.html), '<a href="{{ v.unsubscribe_url }}">Afmelden</a>',
         N_("the HTML has no visible unsubscribe link; Gmail and Yahoo require one in the message: "
            "keep {tag} in templates/email.mjml")),
        (TOKEN_UNSUBSCRIBE in rendered.text or any(_UNSUBSCRIBE_WORDS.search(u) for u in text_links),
         "{{ v.unsubscribe_url }}",
         N_("the text part has no unsubscribe link; readers of plain text need one too: "
            "keep {tag} in templates/email.txt")),
    )  # fmt: skip
    return [(_(message).format(tag=tag), "error") for found, tag, message in checks if not found]


def _postal_address_and_preheader(rendered: Rendered, settings: Settings) -> Found:
    """The postal address in both parts (the law), and the preheader in the HTML."""
    out: Found = []
    shown = _visible_text(rendered.html)
    postal = (
        (shown, N_("the HTML does not show the postal address ({address}), which the law asks of a "
                   "newsletter; keep {tag} in templates/email.mjml")),
        (rendered.text, N_("the text part does not show the postal address ({address}), which the law "
                           "asks of a newsletter; keep {tag} in templates/email.txt")),
    )  # fmt: skip
    for body, message in postal:
        if not _has_address(body, settings.postal_address):
            out.append(
                (_(message).format(address=settings.postal_address, tag="{{ v.postal_address }}"), "error")
            )
    if rendered.preheader and not _has_address(shown, rendered.preheader):
        message = _(
            "the HTML does not carry the preheader, so mail apps show the first words of the page "
            "instead; keep {tag} in templates/email.mjml"
        ).format(tag="<mj-preview>{{ v.preheader }}</mj-preview>")
        out.append((message, "warning"))
    return out


def _size(rendered: Rendered) -> Found:
    """A message near or over the size at which Gmail clips it."""
    size = tracked_size(rendered.html)
    if size < GMAIL_WARN_BYTES:
        return []
    if size > GMAIL_CLIP_BYTES:
        message = _(
            "the HTML will be about {size} KB once SendGrid tracks its links, over the {clip} KB at "
            "which Gmail clips a message and hides the rest (the unsubscribe link included); leave out "
            "an item or shorten summaries"
        )
    else:
        message = _(
            "the HTML will be about {size} KB once SendGrid tracks its links, close to the {clip} KB at "
            "which Gmail clips a message and hides the rest (the unsubscribe link included); leave out "
            "an item or shorten summaries"
        )
    return [(message.format(size=f"{size / 1024:.0f}", clip=GMAIL_CLIP_BYTES // 1024), "warning")]
