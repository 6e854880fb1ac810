"""The per-recipient parts of an email, and how they are filled where SendGrid does not fill them.

SendGrid replaces the ``asm_*`` tags itself (subscription management, with the unsubscribe group
set); the name is a personalization substitution. The outbox, test sends and the editors' preview
in ``build/`` replace all of them with working values: the name (or "lezer"), and a mailto:
unsubscribe to the reply-to address. ``list_headers`` gives the List-Unsubscribe and List-Id
headers of the issue's mail (the list send and test copies; no other mail carries them), in one
place for the SendGrid send, the outbox and the bulk-sender check.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from pipeline.domain.config import Settings

TOKEN_NAME = "%naam%"
TOKEN_UNSUBSCRIBE = "<%asm_group_unsubscribe_raw_url%>"
TOKEN_PREFERENCES = "<%asm_preferences_raw_url%>"
TOKENS = (TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_PREFERENCES)
DEFAULT_NAME = "lezer"  # "Beste lezer," when a subscriber has no name in the list
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None


def unsubscribe_mailto(settings: Settings, issue_id: str) -> str:
    """A working unsubscribe without SendGrid: a mail to the editors, who remove the address."""
    return f"mailto:{settings.reply_to or settings.from_email}?subject={quote(f'afmelden {issue_id}')}"


def list_id(settings: Settings) -> str:
    """The list's List-Id (RFC 2919): the title, and ``LABEL.HOST`` from the title and the host of
    ``archive_url``: ``"Nieuwsbrief (demo)" <nieuwsbrief-demo.nieuwsbrief.example.org>``.

    Readers' mail filters key on it, so it changes only when the title or the archive's host does.
    """
    plain = unicodedata.normalize("NFKD", settings.title).encode("ascii", "ignore").decode("ascii")
    label = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].strip("-") or "nieuwsbrief"
    host = urlsplit(settings.archive_url).hostname or settings.from_email.rpartition("@")[2]
    return email.utils.formataddr((settings.title, f"{label}.{host}"))


def list_headers(settings: Settings, issue_id: str, *, test: bool = False) -> dict[str, str]:
    """The list headers of a message of ``issue_id``: List-Unsubscribe (RFC 2369; one-click: RFC
    8058) and List-Id (RFC 2919).

    A list send names SendGrid's one-click address of the unsubscribe group first (the asm tag,
    which SendGrid fills per recipient; Gmail and Yahoo require one-click for bulk senders since
    2024), then a mailto to the editors as a fallback, with ``List-Unsubscribe-Post``. A test send
    names only the mailto: test readers are on no list, so there is nothing to unsubscribe from;
    it carries the List-Id, as the copy of the list's mail that it is.
    """
    mailto = f"<{unsubscribe_mailto(settings, issue_id)}>"
    if test:
        return {"List-Unsubscribe": mailto, "List-Id": list_id(settings)}
    return {
        "List-Unsubscribe": f"<{TOKEN_UNSUBSCRIBE}>, {mailto}",
        "List-Unsubscribe-Post": ONE_CLICK,
        "List-Id": list_id(settings),
    }


def personalise(text: str, recipient: Recipient, settings: Settings, issue_id: str) -> str:
    """Replace every per-recipient token with a working value (outbox, test sends, the preview)."""
    unsubscribe = unsubscribe_mailto(settings, issue_id)
    return (
        text.replace(TOKEN_NAME, recipient.name or DEFAULT_NAME)
        .replace(TOKEN_UNSUBSCRIBE, unsubscribe)
        .replace(TOKEN_PREFERENCES, unsubscribe)
    )
