"""The only module that talks to SendGrid: mail send and suppression reads, with bounded retries.

Requests go through the official ``sendgrid`` client (``SENDGRID_API_KEY``; ``SENDGRID_HOST``
overrides the API address, for a local mock or a proxy; otherwise the region in sources.yaml
picks api.sendgrid.com or api.eu.sendgrid.com). Mail send has no idempotency key, so every
answer is classified by what it proves:

- 202: accepted (``X-Message-Id``);
- 429, 500, 502, 503, 504, or a connection that failed before the request was written: SendGrid
  did not take the mail, so it is retried with exponential backoff and jitter (429 honours
  ``Retry-After`` / ``X-RateLimit-Reset``), a bounded number of times;
- another 4xx: refused, with SendGrid's own ``errors[].message`` and ``field``;
- a timeout or dropped connection after the request was written: unknown. Never retried here:
  resending could mail everyone in the batch twice.

The API key lives only inside the client object and is never part of a message, exception or repr.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import time
import urllib.error
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from pipeline.domain.errors import PipelineError
from pipeline.domain.i18n import _
from pipeline.infra import retry
from pipeline.infra.counting import CountsRequests
from pipeline.infra.outbox import Outbox

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RECIPIENTS = 1000  # per request, to + cc + bcc over all personalizations
MAX_BYTES = 30_000_000  # per request
MAX_SCHEDULE = 72 * 3600  # send_at at most 72 h ahead
# Set through their own fields, never through ``headers`` (SendGrid refuses or overrides them).
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding",
        "to", "from", "subject", "reply-to", "cc", "bcc",
    )
)  # fmt: skip
# (endpoint, reason recorded in the ledger); the group's own list is read separately.
SUPPRESSION_LISTS = (
    ("suppression/unsubscribes", "unsubscribed"),
    ("suppression/bounces", "bounced"),
    ("suppression/spam_reports", "reported spam"),
    ("suppression/invalid_emails", "invalid address"),
)
PAGE = 500  # the suppression endpoints' largest page


class SendGridError(PipelineError):
    "SendGrid refused a request; the message is SendGrid's own."


class SendGridRefused(SendGridError):
    "SendGrid answered a call with a 4xx; ``status`` and SendGrid's own words are kept."

    def __init__(self, path: str, status: int, body: bytes | str | None) -> None:
        self.status = status
        self.text = _error_text(status, body)
        super().__init__(f"/v3/{path}: {self.text}", _("see SendGrid's message"))


class CancelLimit(SendGridError):
    "SendGrid holds as many cancelled or paused batches as it allows (10)."


class RequestInvalid(PipelineError):
    "A request breaks a SendGrid limit the project checks before sending."


class KeyInvalid(PipelineError):
    "SENDGRID_API_KEY cannot be sent in an HTTP header."


class HostInvalid(PipelineError):
    "SENDGRID_HOST is not an http(s) address."


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries in all, for one request
    base: float = 1.0  # seconds before the first retry; doubles each time
    cap: float = 60.0  # longest single wait
    timeout: float = 60.0  # seconds for one request; after that its outcome is unknown
    # After a request timed out (or its sender was killed), how much longer SendGrid might still be
    # taking it in: a cancel of its batch waits until then, so that it cannot arrive after the cancel.
    settle: float = 30.0

    @property
    def in_flight_at_most(self) -> float:
        """Seconds after a request started when it can no longer be on its way to SendGrid."""
        return self.timeout + self.settle


class Answer(StrEnum):
    """What one mail-send request proved."""

    ACCEPTED = "accepted"  # 202
    REFUSED = "refused"  # a 4xx other than 429: SendGrid's own message in the reason
    UNKNOWN = "unknown"  # the request was written and the answer lost: SendGrid may have it
    NOT_SENT = "not_sent"  # retries exhausted before SendGrid took it: nothing was accepted


@dataclass(frozen=True)
class _Tried:
    """How the attempts at one request ended: "ok", "refused", "unknown" or "exhausted"."""

    outcome: str
    attempts: int
    response: Any = None
    status: int = 0
    body: bytes | str | None = None
    reason: str = ""


@dataclass(frozen=True)
class SendResult:
    answer: Answer
    message_id: str | None = None
    reason: str | None = None
    attempts: int = 1


def api_key_from_env(env: Mapping[str, str] | None = None) -> str | None:
    key = (env if env is not None else os.environ).get("SENDGRID_API_KEY", "").strip()
    if key and not (key.isascii() and key.isprintable() and " " not in key):
        # http.client would fail deep inside the first request; the message never shows the key.
        raise KeyInvalid(
            _("SENDGRID_API_KEY holds a space or a character an HTTP header cannot carry"),
            _("copy the key again from SendGrid (Settings, API Keys) as plain text; it starts with 'SG.'"),
        )
    return key or None


class SendGridAPI(CountsRequests):
    """A SendGrid account, reached with the official client; ``requests``: every HTTP request made,
    retries included (they run in a few worker threads)."""

    def __init__(
        self,
        api_key: str,
        *,
        region: str = "global",
        host: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """``clock``: the time now (aware), which a request's send_at is checked against: the
        sender's own (cron's --now), the real one when None."""
        super().__init__()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._client = SendGridAPIClient(api_key=api_key)
        if host:
            _check_host(host)
            self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        elif region == "eu":
            self._client.set_sendgrid_data_residency("eu")
        self.host = self._client.host
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    @classmethod
    def from_env(cls, region: str, env: Mapping[str, str] | None = None, **kwargs: Any) -> SendGridAPI | None:
        """The account named by ``SENDGRID_API_KEY`` (and ``SENDGRID_HOST``), or None without a key."""
        env = env if env is not None else os.environ
        key = api_key_from_env(env)
        if key is None:
            return None
        return cls(key, region=region, host=env.get("SENDGRID_HOST") or None, **kwargs)

    def __repr__(self) -> str:  # never the key
        return f"SendGridAPI(host={self.host!r})"

    # -- one request, retried as its answers allow --------------------------------------------------
    def _attempts(self, call: Callable[[], Any], *, repeatable: bool) -> _Tried:
        """Make the request until it succeeds, is refused, or the attempts run out.

        429 and 5xx are retried after the wait SendGrid asks for (``pipeline.infra.retry``), a
        failure to connect after backoff. A failure after the request was written is retried only
        for a ``repeatable`` request (a read); for a mail send its outcome is unknown.
        """
        last = ""
        for attempt in range(1, self.policy.attempts + 1):
            self._counted()
            try:
                return _Tried("ok", attempt, response=call())
            except HTTPError as e:
                status = int(e.status_code)
                if status not in RETRY_STATUSES:
                    return _Tried("refused", attempt, status=status, body=e.body)
                last = _("SendGrid answered {status} {n} time(s)").format(status=status, n=attempt)
                wait = retry.wait_for(e.headers, attempt, base=self.policy.base, cap=self.policy.cap)
            except urllib.error.URLError as e:
                # urllib wraps only what failed while connecting or writing the request: SendGrid cannot
                # have a complete request, so nothing was accepted and a retry is safe.
                last = _("cannot reach SendGrid at {host}: {error}").format(host=self.host, error=_reason(e))
                wait = retry.backoff(attempt, self.policy.base, self.policy.cap)
            except (OSError, http.client.HTTPException) as e:
                # Raised while waiting for the answer: the request was written, SendGrid may have it.
                if not repeatable:
                    return _Tried(
                        "unknown", attempt, reason=_("answer lost: {error}").format(error=type(e).__name__)
                    )
                last = _("cannot reach SendGrid at {host}: {error}").format(host=self.host, error=_reason(e))
                wait = retry.backoff(attempt, self.policy.base, self.policy.cap)
            if attempt < self.policy.attempts:
                self._sleep(wait)
        return _Tried("exhausted", self.policy.attempts, reason=last)

    # -- mail send ------------------------------------------------------------------------------
    def send(self, body: Mapping[str, Any]) -> SendResult:
        """POST /v3/mail/send with retries; the result says what SendGrid did with it."""
        check_body(body, self._clock())
        mail = self._client.client.mail.send
        tried = self._attempts(
            lambda: mail.post(request_body=body, timeout=self.policy.timeout), repeatable=False
        )
        if tried.outcome == "refused":
            return SendResult(
                Answer.REFUSED, reason=_error_text(tried.status, tried.body), attempts=tried.attempts
            )
        if tried.outcome == "unknown":
            return SendResult(Answer.UNKNOWN, reason=tried.reason, attempts=tried.attempts)
        if tried.outcome == "exhausted":
            return SendResult(Answer.NOT_SENT, reason=tried.reason, attempts=tried.attempts)
        response = tried.response
        if response.status_code != 202:
            # Sandbox mode answers 200 and sends nothing; anything else is not an acceptance either.
            return SendResult(
                Answer.REFUSED,
                reason=_("SendGrid answered {status}, not 202").format(status=response.status_code),
            )
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return SendResult(Answer.ACCEPTED, message_id=message_id, attempts=tried.attempts)

    # -- management calls: suppressions, batches, scheduled sends ---------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call other than a mail send, retried (each is safe to repeat); its JSON answer.

        Raises ``SendGridRefused`` (with SendGrid's status and messages) for a 4xx, and
        ``SendGridError`` when SendGrid cannot be reached or answers something that is not JSON.
        """
        node: Any = self._client.client
        for part in path.split("/"):
            node = node._(part)
        kwargs: dict[str, Any] = {"timeout": self.policy.timeout}
        if params:
            kwargs["query_params"] = dict(params)
        if body is not None:
            kwargs["request_body"] = dict(body)
        call = getattr(node, method.lower())
        tried = self._attempts(lambda: call(**kwargs), repeatable=True)
        what = _("reading /v3/{path}").format(path=path) if method == "GET" else f"{method} /v3/{path}"
        if tried.outcome == "refused":
            raise SendGridRefused(path, tried.status, tried.body)
        if tried.outcome != "ok":
            raise SendGridError(f"{what}: {tried.reason}", _("try again later; nothing was sent"))
        raw = tried.response.body
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            # A captive portal or a proxy's own page: not SendGrid, and not an answer to trust.
            raise SendGridError(
                _("{what}: the answer from {host} is not JSON").format(what=what, host=self.host),
                _("check SENDGRID_HOST (unset, it reaches SendGrid itself); nothing was sent"),
            ) from None

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            found = self._call("GET", path, params=params)
        except SendGridRefused as e:
            hint = (
                _("check SENDGRID_API_KEY: the key needs the 'Suppressions' read scope")
                if e.status in (401, 403)
                else _("see SendGrid's message above")
            )
            raise SendGridError(
                _("reading /v3/{path}: {error}").format(path=path, error=e.text), hint
            ) from None
        return found if found is not None else []

    def create_batch(self) -> str:
        """A new batch id (POST /v3/mail/batch): every mail of one send attempt carries it."""
        answer = self._call("POST", "mail/batch")
        batch = answer.get("batch_id") if isinstance(answer, dict) else None
        if not isinstance(batch, str) or not batch:
            raise SendGridError(
                _("SendGrid gave no batch id (POST /v3/mail/batch)"), _("try again later; nothing was sent")
            )
        return batch

    def cancel_batch(self, batch_id: str) -> None:
        """Ask SendGrid to discard every mail of ``batch_id`` not sent yet (POST /v3/user/scheduled_sends).

        A cancel that exists already is no error here; the caller confirms with ``cancel_status``.
        Raises ``CancelLimit`` when the account holds the most cancelled or paused batches SendGrid allows.
        """
        try:
            self._call("POST", "user/scheduled_sends", body={"batch_id": batch_id, "status": "cancel"})
        except SendGridRefused as e:
            if e.status == 400 and "exist" in e.text:
                return
            if e.status == 400 and "limit" in e.text:
                raise CancelLimit(
                    _("SendGrid refused to cancel batch {batch}: {error}").format(
                        batch=batch_id, error=e.text
                    ),
                    _(
                        "SendGrid holds at most 10 cancelled or paused batches: remove old ones in SendGrid"
                        " (Marketing, Scheduled sends), or wait until their send times pass and run again"
                    ),
                ) from None
            raise

    def cancel_status(self, batch_id: str) -> str | None:
        """'cancel' or 'pause' when SendGrid holds that for ``batch_id``, else None."""
        try:
            found = self._call("GET", f"user/scheduled_sends/{batch_id}")
        except SendGridRefused as e:
            if e.status == 404:
                return None
            raise
        for entry in found or []:
            if isinstance(entry, dict) and entry.get("batch_id") == batch_id:
                status = entry.get("status")
                return status if isinstance(status, str) else None
        return None

    def cancelled_batches(self) -> list[str]:
        """Every batch this account holds cancelled or paused (they count against SendGrid's limit of 10)."""
        found = self._call("GET", "user/scheduled_sends")
        return [
            e["batch_id"] for e in found or [] if isinstance(e, dict) and isinstance(e.get("batch_id"), str)
        ]

    def forget_cancel(self, batch_id: str) -> None:
        """Remove the cancel of a batch whose send time has passed, to free SendGrid's limit.

        Never call it earlier: deleting a cancel before the send time sends the batch after all.
        """
        try:
            self._call("DELETE", f"user/scheduled_sends/{batch_id}")
        except SendGridRefused as e:
            if e.status != 404:  # gone already
                raise

    def suppress(self, group: int, address: str) -> None:
        """Put ``address`` on the unsubscribe group's suppressions (an unsubscribe made at home), so
        that SendGrid and the state database agree."""
        self._call("POST", f"asm/groups/{group}/suppressions", body={"recipient_emails": [address]})

    def unsuppress(self, group: int, address: str) -> None:
        """Take ``address`` off the group's suppressions again (the reader undid her unsubscribe)."""
        try:
            self._call("DELETE", f"asm/groups/{group}/suppressions/{address}")
        except SendGridRefused as e:
            if e.status != 404:  # not on it: nothing to undo
                raise

    def suppressions(self, group: int | None) -> Iterator[tuple[str, str]]:
        """(lower-cased address, reason) for everyone who must not get mail; addresses may repeat."""
        if group is not None:
            for address in self._get(f"asm/groups/{group}/suppressions"):
                if isinstance(address, str):
                    yield address.strip().lower(), "unsubscribed from the newsletter"
        for path, reason in SUPPRESSION_LISTS:
            offset = 0
            while True:
                page = self._get(path, {"limit": PAGE, "offset": offset})
                for entry in page:
                    if isinstance(entry, dict) and isinstance(entry.get("email"), str):
                        yield entry["email"].strip().lower(), reason
                if len(page) < PAGE:
                    break
                offset += PAGE


def send_at_once(
    body: Mapping[str, Any],
    region: str,
    env: Mapping[str, str] | None,
    outbox: Outbox,
    folder: Path,
    name: str,
) -> SendResult:
    """One request that goes at once, outside any batch (a confirmation, the editors' report): through
    SendGrid when ``SENDGRID_API_KEY`` is set, else written into ``folder`` of the outbox as the
    messages it gives (``NAME-0001.eml`` ...), which is accepted."""
    api = SendGridAPI.from_env(region, env)
    if api is None:
        outbox.deliver(body, folder, name)
        return SendResult(Answer.ACCEPTED, message_id=f"outbox-{name}")
    return api.send(body)


def send_or_raise(
    body: Mapping[str, Any],
    region: str,
    env: Mapping[str, str] | None,
    root: Path,
    folder: str | Path,
    name: str,
    refused: tuple[str, str],
    error: type[PipelineError] = PipelineError,
) -> None:
    """``send_at_once`` into ``folder`` of the outbox at ``root``; a refusal raised as ``error`` with
    ``refused``: the message (its ``{reason}`` filled with SendGrid's) and the fix, both translated."""
    outbox = Outbox(root)
    result = send_at_once(body, region, env, outbox, outbox.root / folder, name)
    if result.answer != Answer.ACCEPTED:
        raise error(refused[0].format(reason=result.reason), refused[1])


def _check_host(host: str) -> None:
    """A mistyped SENDGRID_HOST fails here, once, instead of inside urllib on the first request."""
    try:
        parts = urlsplit(host)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise HostInvalid(
            _("SENDGRID_HOST {host!r} is not an http(s) address").format(host=host),
            _(
                "set it to the API's base address, such as http://127.0.0.1:4010, "
                "or unset it to reach SendGrid"
            ),
        )


def _reason(e: BaseException) -> str:
    inner = getattr(e, "reason", None)
    return type(inner).__name__ if isinstance(inner, BaseException) else str(inner or type(e).__name__)


def _error_text(status: int, body: bytes | str | None) -> str:
    """SendGrid's own words: ``errors[].message`` (and ``field``), else the status alone."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    messages = []
    for err in data.get("errors") or [] if isinstance(data, dict) else []:
        if isinstance(err, dict) and err.get("message"):
            if err.get("field"):
                messages.append(
                    _("{message} (field {field})").format(message=err["message"], field=err["field"])
                )
            else:
                messages.append(str(err["message"]))
    reason = "; ".join(messages) if messages else _("no reason given")
    return _("SendGrid answered {status}: {reason}").format(status=status, reason=reason)


def check_body(body: Mapping[str, Any], now: dt.datetime) -> None:
    """Limits the mock does not check, enforced before a request leaves: a broken request must
    fail here, with a message for the developer, rather than half-way through a send. ``now``
    (aware) is the sender's time, which send_at may be at most 72 hours ahead of."""
    seen: set[str] = set()
    for p in body.get("personalizations", []):
        for kind in ("to", "cc", "bcc"):
            for r in p.get(kind, []):
                address = r["email"].lower()
                if address in seen:
                    raise RequestInvalid(
                        _("a request names one address twice"),
                        _("deduplicate recipients before building requests"),
                    )
                seen.add(address)
    if len(seen) > MAX_RECIPIENTS:
        raise RequestInvalid(
            _("a request has {n} recipients; SendGrid takes at most {most}").format(
                n=len(seen), most=MAX_RECIPIENTS
            ),
            _("split the recipients into batches of at most 1000"),
        )
    for name in body.get("headers", {}):
        if name.lower() in RESERVED_HEADERS:
            raise RequestInvalid(
                _("header '{name}' cannot be set through 'headers'").format(name=name),
                _("use the request's own field for it"),
            )
    send_at = body.get("send_at")
    if send_at is not None and send_at > now.timestamp() + MAX_SCHEDULE + 60:
        raise RequestInvalid(
            _("send_at is more than 72 hours ahead; SendGrid refuses that"),
            _("send within 72 hours of the issue's send_at (newsletter run does it when due)"),
        )
    # Exactly what the client sends (it encodes with json.dumps' defaults); the C encoder is quick.
    size = len(json.dumps(body))
    if size >= MAX_BYTES:
        raise RequestInvalid(
            _("a request is {size} MB; SendGrid takes less than 30 MB").format(size=size // 1_000_000),
            _("make the issue smaller (images are linked, not embedded) or send smaller batches"),
        )


def mail_body(
    *,
    from_email: str,
    from_name: str,
    reply_to: str | None,
    subject: str,
    text: str,
    html: str,
    recipients: list[tuple[str, str | None]],
    substitutions: Callable[[str | None], dict[str, str]] | None = None,
    categories: list[str] | None = None,
    custom_args: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    group: int | None = None,
    send_at: int | None = None,
    batch_id: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> dict[str, Any]:
    """A /v3/mail/send request: one personalization per recipient, so nobody sees another address.

    Built as a plain dict: the client's ``Mail`` helper objects cost more than the request itself
    at 1000 personalizations, and the dict is what it would produce.
    """
    personalizations = []
    for address, name in recipients:
        to: dict[str, str] = {"email": address}
        if name:
            to["name"] = name
        p: dict[str, Any] = {"to": [to]}
        if substitutions is not None:
            p["substitutions"] = substitutions(name)
        personalizations.append(p)
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": {"email": from_email, "name": from_name},
        "subject": subject,
        # text/plain must come first: SendGrid refuses any other order.
        "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
    }
    if reply_to:
        body["reply_to"] = {"email": reply_to}
    if categories:
        body["categories"] = categories[:10]
    if custom_args:
        body["custom_args"] = custom_args
    if headers:
        body["headers"] = headers
    if group is not None:
        body["asm"] = {"group_id": group}
    if send_at is not None:
        body["send_at"] = send_at
    if batch_id is not None:
        body["batch_id"] = batch_id
    if attachments:
        # (file name, MIME type, content): SendGrid takes the content Base64-encoded.
        body["attachments"] = [
            {"content": base64.b64encode(data).decode("ascii"), "type": kind, "filename": name,
             "disposition": "attachment"}
            for name, kind, data in attachments
        ]  # fmt: skip
    return body
