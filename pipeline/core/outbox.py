"""The outbox: what a send writes without ``SENDGRID_API_KEY``, one ``.eml`` file per message.

Each file is the message a subscriber would get: multipart/alternative (plain text, then HTML),
the same From, Reply-To and Subject, and the List-Unsubscribe headers of a real send
(``tokens.list_headers``). The per-recipient tokens that SendGrid fills in a real send are replaced
here with working values, in the headers too: the name, and a mailto: unsubscribe to the reply-to
address (SendGrid fills its own https one-click link in a real send). Files are written atomically,
so a killed send leaves whole files.
"""

from __future__ import annotations

import email.policy
import email.utils
import threading
from email.message import EmailMessage
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.files import atomic_write
from pipeline.core.models import Rendered
from pipeline.core.tokens import Recipient, list_headers, personalise


def build_message(
    rendered: Rendered,
    recipient: Recipient,
    settings: Settings,
    *,
    subject_prefix: str = "",
    test: bool = False,
) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = email.utils.formataddr((settings.from_name, settings.from_email))
    msg["To"] = email.utils.formataddr((recipient.name or "", recipient.email))
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg["Subject"] = subject_prefix + personalise(rendered.subject, recipient, settings, rendered.issue_id)
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=settings.from_email.rpartition("@")[2] or None)
    for name, value in list_headers(settings, rendered.issue_id, test=test).items():
        # The one-click tag becomes the same mailto as the fallback: name each address once.
        addresses = personalise(value, recipient, settings, rendered.issue_id).split(", ")
        msg[name] = ", ".join(dict.fromkeys(addresses))
    msg["X-Newsletter-Issue"] = rendered.issue_id
    msg.set_content(personalise(rendered.text, recipient, settings, rendered.issue_id))
    msg.add_alternative(personalise(rendered.html, recipient, settings, rendered.issue_id), subtype="html")
    return msg


class Outbox:
    """Writes messages under ``outbox/ISSUE/``; the stand-in for SendGrid without an API key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()  # batches are written from worker threads
        self._requests = 0

    @property
    def requests(self) -> int:
        """Batches written (the outbox's 'requests')."""
        return self._requests

    def _counted(self) -> None:
        with self._lock:
            self._requests += 1

    def folder(self, issue_id: str, test: bool = False) -> Path:
        return self.root / issue_id / "test" if test else self.root / issue_id

    def write(self, folder: str, name: str, message: EmailMessage) -> Path:
        """One message that is not an issue (a progress reminder) as ``outbox/FOLDER/NAME.eml``."""
        self._counted()
        path = self.root / folder / f"{name}.eml"
        atomic_write(path, message.as_bytes())
        return path

    def deliver(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        name: str,
        test: bool = False,
        subfolder: str | None = None,
    ) -> Path:
        """Write one file per recipient as ``NAME-0001.eml`` ...; return the folder.

        The list's messages go straight into ``outbox/ISSUE/``; test copies into ``test/`` and
        anything else (the editors' delivery report) into its own ``subfolder``, so that the folder
        holds exactly one file per subscriber served.
        """
        self._counted()
        folder = self.folder(rendered.issue_id, test)
        if subfolder:
            folder = folder / subfolder
        prefix = "[TEST] " if test else ""
        for i, (address, person) in enumerate(recipients, 1):
            message = build_message(
                rendered, Recipient(address, person), settings, subject_prefix=prefix, test=test
            )
            atomic_write(folder / f"{name}-{i:04d}.eml", message.as_bytes())
        return folder
