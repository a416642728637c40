"""The signature of a callback: HMAC-SHA256 over the timestamp and the body.

A callback carries ``X-Agented-Timestamp`` (Unix seconds, a whole number) and
``X-Agented-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared secret of the bytes
``{timestamp}.{body}``: the timestamp as sent, a full stop, the raw request body. A receiver
recomputes it over the body as received (before parsing it), compares in constant time, and
refuses a timestamp too far from its own clock (replays): :func:`verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Agented-Signature"
TIMESTAMP_HEADER = "X-Agented-Timestamp"
TOLERANCE = 300.0
"""Seconds a timestamp may be off the receiver's clock by default."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Agented-Signature`` value of ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the header's value) signs ``body`` at ``timestamp`` (the other
    header's value) under ``secret``, and the timestamp is within ``tolerance`` seconds."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    at = int(timestamp)
    if abs((time.time() if now is None else now) - at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, at, body), signature)
