"""Secrets and the two signatures every delivery carries.

`X-Gossip-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` is spec 001's, keyed with
the secret string exactly as the developer holds it (what its Node snippet does).
`webhook-id`/`webhook-timestamp`/`webhook-signature` are Standard Webhooks': the key is
the base64 part after `whsec_`, the signed content `{id}.{timestamp}.{body}`, so a
receiver can refuse a replayed or stale delivery. One secret string serves both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def gossip_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Gossip-Webhooks/1",
        "x-gossip-signature": gossip_signature(secret, body),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }
