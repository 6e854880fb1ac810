"""The outbox: what a send writes without ``SENDGRID_API_KEY``, one ``.eml`` file per message.

Each file is the message a recipient would get from the very request a real send makes
(``pipeline.infra.sendgrid.mail_body``): multipart/alternative (plain text, then HTML), any
attachments, the same From, To, Reply-To and Subject, and exactly the request's own ``headers``
(the List-Unsubscribe and List-Id headers of list mail; none for a confirmation, a report or a
reminder), plus the Date and Message-ID every sent message has. The per-recipient tokens that
SendGrid fills in a real send are replaced here with working values, in the headers too: the
personalization's substitutions (the name, the reader's own links), and a mailto: unsubscribe to
the reply-to address where SendGrid would fill its group's link. A personalization's own headers
(the reader's one-click List-Unsubscribe) replace the request's, as SendGrid does. Files are written
atomically, so a killed send leaves whole files.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pipeline.domain.tokens import TOKEN_PREFERENCES, TOKEN_UNSUBSCRIBE
from pipeline.infra.counting import CountsRequests
from pipeline.infra.files import atomic_write

# SMTP's policy, but a header stored raw is written as it is: a List-Unsubscribe URL longer than a
# line would otherwise become RFC 2047 encoded words, which no mail client reads as a link.
RAW_LIST_HEADERS = email.policy.SMTP.clone(refold_source="none")


def messages(body: Mapping[str, Any], unsubscribe: str = "") -> list[EmailMessage]:
    """The messages a /v3/mail/send ``body`` gives its recipients, one per personalization, as
    SendGrid delivers them; ``unsubscribe`` stands in for the group's unsubscribe address (list
    mail; a message without an unsubscribe group has none)."""

    def fill(text: str, substitutions: Mapping[str, str]) -> str:
        for tag, value in substitutions.items():
            text = text.replace(tag, value)
        return text.replace(TOKEN_UNSUBSCRIBE, unsubscribe).replace(TOKEN_PREFERENCES, unsubscribe)

    sender = body["from"]
    domain = str(sender["email"]).rpartition("@")[2] or None
    reply_to = body.get("reply_to")
    out = []
    for p in body["personalizations"]:
        subs: Mapping[str, str] = p.get("substitutions", {})
        msg = EmailMessage(policy=RAW_LIST_HEADERS)
        msg["From"] = email.utils.formataddr((sender.get("name") or "", sender["email"]))
        msg["To"] = ", ".join(email.utils.formataddr((t.get("name") or "", t["email"])) for t in p["to"])
        if reply_to:
            msg["Reply-To"] = email.utils.formataddr((reply_to.get("name") or "", reply_to["email"]))
        msg["Subject"] = fill(body["subject"], subs)
        msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = email.utils.make_msgid(domain=domain)
        # A personalization's own headers (the reader's List-Unsubscribe) win over the request's.
        for name, value in {**body.get("headers", {}), **p.get("headers", {})}.items():
            # The one-click tag becomes the same mailto as the fallback: name each address once.
            value = ", ".join(dict.fromkeys(fill(value, subs).split(", ")))
            if name == "List-Unsubscribe":  # its URLs as they are (never RFC 2047 words), one a line
                msg.set_raw(name, ",\r\n ".join(value.split(", ")))
            else:
                msg[name] = value
        parts = {c["type"]: fill(c["value"], subs) for c in body["content"]}
        msg.set_content(parts["text/plain"])
        if "text/html" in parts:
            msg.add_alternative(parts["text/html"], subtype="html")
        for a in body.get("attachments", []):
            maintype, subtype = a["type"].split("/")
            data = base64.b64decode(a["content"])
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=a["filename"])
        out.append(msg)
    return out


class Outbox(CountsRequests):
    """Writes messages under ``outbox/``; the stand-in for SendGrid without an API key."""

    def __init__(self, root: Path) -> None:
        super().__init__()  # batches are written from worker threads
        self.root = root

    def folder(self, issue_id: str, test: bool = False) -> Path:
        return self.root / issue_id / "test" if test else self.root / issue_id

    def write(self, folder: str, name: str, message: EmailMessage) -> Path:
        """One message as ``outbox/FOLDER/NAME.eml``."""
        self._counted()
        path = self.root / folder / f"{name}.eml"
        atomic_write(path, message.as_bytes())
        return path

    def deliver(self, body: Mapping[str, Any], folder: Path, name: str, *, unsubscribe: str = "") -> Path:
        """Write the messages of one request ``body`` as ``FOLDER/NAME-0001.eml`` ...; return the folder.

        The list's messages go straight into ``outbox/ISSUE/``; test copies into ``test/`` and
        anything else (the editors' delivery report) into its own subfolder, so that the folder
        holds exactly one file per subscriber served.
        """
        self._counted()
        for i, message in enumerate(messages(body, unsubscribe), 1):
            atomic_write(folder / f"{name}-{i:04d}.eml", message.as_bytes())
        return folder
