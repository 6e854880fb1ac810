"""Signing events the way SendGrid's Signed Event Webhook does, with a key pair made here.

SendGrid signs ``timestamp + body`` with ECDSA (P-256, SHA-256) and sends the base64 DER signature
and the timestamp in two headers; the service checks them with the public key (``verify``). The
demo feeds its report a few clicks this way, the tests sign their calls with it, and anyone can
try a service they set up (docs/audience.md) before SendGrid's first call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.audience import SIGNATURE_HEADER, TIMESTAMP_HEADER


@dataclass(frozen=True)
class EventSigner:
    private_key: Any  # cryptography's EllipticCurvePrivateKey

    @classmethod
    def new(cls) -> EventSigner:
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        """The key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
        from cryptography.hazmat.primitives import serialization

        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        """The two headers SendGrid sends with ``body`` at ``timestamp`` (seconds since 1970)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = self.private_key.sign(str(timestamp).encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: str(timestamp),
            "content-type": "application/json",
        }


def events_body(events: Sequence[dict[str, Any]]) -> bytes:
    """A webhook body as SendGrid posts it: a JSON array of events."""
    return json.dumps(list(events), separators=(",", ":")).encode("utf-8")
