"""Where messages go: SendGrid (``SENDGRID_API_KEY``) or the ``.eml`` outbox, behind one ``Transport``."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path

from pipeline.domain.config import Config, Settings
from pipeline.domain.models import Rendered
from pipeline.domain.tokens import (
    DEFAULT_NAME,
    TOKEN_NAME,
    PersonalLinks,
    Recipient,
    list_headers,
    personalise,
    unsubscribe_mailto,
)
from pipeline.infra.outbox import Outbox
from pipeline.infra.sendgrid import Answer, RetryPolicy, SendGridAPI, SendResult, mail_body
from pipeline.infra.store import Store, has_state

TEST_PREFIX = "[TEST] "


# -- where messages go ----------------------------------------------------------------------------
class Transport(ABC):
    """Where messages go. A send's request is made here, the same for every transport (a test copy,
    or a list request with each reader's own ``links`` when the list lives in the state database);
    ``post`` takes it to its destination."""

    def __init__(self, destination: str, links: PersonalLinks | None) -> None:
        self.destination = destination
        self.links = links

    @property
    @abstractmethod
    def requests(self) -> int: ...

    @property
    @abstractmethod
    def in_flight_at_most(self) -> float:
        """Seconds after a request started when it can no longer be on its way."""

    @abstractmethod
    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]] | None: ...

    def send(
        self,
        rendered: Rendered,
        recipients: list[tuple[str, str | None]],
        settings: Settings,
        *,
        request: int,
        test: bool,
        send_at: dt.datetime | None,
        batch_id: str | None,
    ) -> SendResult:
        if test:
            body = _test_body(rendered, recipients, settings)
            name = f"test-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        else:
            body = _list_body(
                rendered, recipients, settings, request=request, send_at=send_at, batch_id=batch_id,
                links=self.links,
            )  # fmt: skip
            name = f"{batch_id}-{request:05d}"
        return self.post(body, rendered.issue_id, settings, name=name, test=test)

    @abstractmethod
    def post(
        self, body: dict[str, object], issue_id: str, settings: Settings, *, name: str, test: bool
    ) -> SendResult:
        """Take one request (``name``: the outbox's file name for it) to its destination."""

    @abstractmethod
    def create_batch(self, issue_id: str) -> str: ...

    @abstractmethod
    def cancel_batch(self, issue_id: str, batch_id: str) -> None: ...

    @abstractmethod
    def cancel_status(self, issue_id: str, batch_id: str) -> str | None: ...

    @abstractmethod
    def cancelled_batches(self) -> list[str]: ...

    @abstractmethod
    def forget_cancel(self, issue_id: str, batch_id: str) -> None: ...


def _list_body(
    rendered: Rendered,
    recipients: list[tuple[str, str | None]],
    settings: Settings,
    *,
    request: int,
    send_at: dt.datetime | None,
    batch_id: str | None,
    links: PersonalLinks | None = None,
) -> dict[str, object]:
    """A list request: SendGrid fills each recipient's name and her own links (``links``, when the
    list lives in the state database), or else the group's unsubscribe links."""
    issue = rendered.issue_id
    custom = {"issue": issue, "request": str(request)}
    if batch_id:
        custom["batch"] = batch_id  # the event webhook ties events back to the ledger by these
    body = mail_body(
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        recipients=recipients,
        substitutions=lambda name: {TOKEN_NAME: name or DEFAULT_NAME},
        categories=[*settings.sendgrid.categories, f"issue-{issue}"],
        custom_args=custom,
        headers=list_headers(settings, issue),  # the one-click unsubscribe Gmail and Yahoo ask for
        group=settings.sendgrid.unsubscribe_group,
        send_at=int(send_at.timestamp()) if send_at else None,
        batch_id=batch_id,
    )
    return links.apply(body, settings, issue) if links is not None else body


def _test_body(
    rendered: Rendered, recipients: list[tuple[str, str | None]], settings: Settings
) -> dict[str, object]:
    """A test copy: test readers are not on the list, so no unsubscribe group, and working links
    instead of the tokens SendGrid would fill for list members; sent at once."""
    issue = rendered.issue_id

    def fill(text: str) -> str:
        return personalise(text, Recipient(""), settings, issue)

    return mail_body(
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        subject=TEST_PREFIX + fill(rendered.subject),
        text=fill(rendered.text),
        html=fill(rendered.html),
        recipients=recipients,
        categories=[*settings.sendgrid.categories, f"issue-{issue}", "test"],
        custom_args={"issue": issue, "test": "1"},
        headers=list_headers(settings, issue, test=True),
    )


class SendGridTransport(Transport):
    """Mail send through SendGrid, batches and their cancels."""

    def __init__(self, api: SendGridAPI, links: PersonalLinks | None = None) -> None:
        super().__init__(f"SendGrid ({api.host})", links)
        self.api = api

    @property
    def requests(self) -> int:
        return self.api.requests

    @property
    def in_flight_at_most(self) -> float:
        return self.api.policy.in_flight_at_most

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]]:
        return self.api.suppressions(group)

    def post(
        self, body: dict[str, object], issue_id: str, settings: Settings, *, name: str, test: bool
    ) -> SendResult:
        return self.api.send(body)

    def create_batch(self, issue_id: str) -> str:
        return self.api.create_batch()

    def cancel_batch(self, issue_id: str, batch_id: str) -> None:
        self.api.cancel_batch(batch_id)

    def cancel_status(self, issue_id: str, batch_id: str) -> str | None:
        return self.api.cancel_status(batch_id)

    def cancelled_batches(self) -> list[str]:
        return self.api.cancelled_batches()

    def forget_cancel(self, issue_id: str, batch_id: str) -> None:
        self.api.forget_cancel(batch_id)


class OutboxTransport(Transport):
    """The outbox: every message a file, named after its batch. There are no suppressions to read
    (there is no account); a cancelled batch's files are moved aside, as SendGrid discards its mail."""

    def __init__(self, outbox: Outbox, display: str, links: PersonalLinks | None = None) -> None:
        super().__init__(display, links)
        self.outbox = outbox

    @property
    def requests(self) -> int:
        return self.outbox.requests

    in_flight_at_most = 0.0  # a file is written, or it is not

    def suppressions(self, group: int | None) -> None:
        return None

    def post(
        self, body: dict[str, object], issue_id: str, settings: Settings, *, name: str, test: bool
    ) -> SendResult:
        # The very request a SendGrid send makes, written as the messages it gives its recipients.
        folder = self.outbox.folder(issue_id, test)
        self.outbox.deliver(body, folder, name, unsubscribe=unsubscribe_mailto(settings, issue_id))
        return SendResult(Answer.ACCEPTED, message_id=f"outbox-{name}")

    def _cancelled(self, issue_id: str, batch_id: str) -> Path:
        return self.outbox.folder(issue_id) / "cancelled" / batch_id

    def create_batch(self, issue_id: str) -> str:
        return f"ob{uuid.uuid4().hex[:10]}"

    def cancel_batch(self, issue_id: str, batch_id: str) -> None:
        aside = self._cancelled(issue_id, batch_id)
        aside.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.outbox.folder(issue_id).glob(f"{batch_id}-*.eml")):
            os.replace(path, aside / path.name)

    def cancel_status(self, issue_id: str, batch_id: str) -> str | None:
        return "cancel" if self._cancelled(issue_id, batch_id).is_dir() else None

    def cancelled_batches(self) -> list[str]:
        return []  # no account, no limit

    def forget_cancel(self, issue_id: str, batch_id: str) -> None:
        pass  # the files stay aside, as the record of what was not sent


def open_transport(config: Config, env: Mapping[str, str] | None = None, **api_options: object) -> Transport:
    """SendGrid when ``SENDGRID_API_KEY`` is set, else the outbox under the instance root."""
    s = config.settings
    api_options.setdefault("policy", RetryPolicy(timeout=s.sendgrid.timeout, settle=s.sendgrid.settle))
    api = SendGridAPI.from_env(s.sendgrid.region, env, **api_options)
    links = personal_links(config)
    if api is not None:
        return SendGridTransport(api, links)
    return OutboxTransport(Outbox(config.root / "outbox"), "outbox/", links)


def personal_links(config: Config) -> PersonalLinks | None:
    """Each reader's own links (preferences, one-click unsubscribe) once the list lives in the state
    database, which keeps the key that signs them; None for a list kept in the CSV."""
    s = config.settings
    if not has_state(s):
        return None
    with Store(s.database) as store:
        if not store.has_subscribers():
            return None
        key = store.link_key()
    return PersonalLinks(key, s.signup.public_url or "http://127.0.0.1:8080")
