"""Stream tokens: short-lived credentials for one execution's SSE stream.

A browser's native ``EventSource`` cannot send headers, so a page that holds an API key asks
``POST /executions/{id}/stream-token`` for a token and opens ``.../events?token=...``. A token
names one execution and an expiry, signed with HMAC-SHA256; nothing is stored. It is accepted on
that execution's SSE route only, and only when the connection starts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from attrs import frozen


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@frozen
class StreamToken:
    """A token and when it expires."""

    token: str
    expires_at: datetime


class StreamTokens:
    """Issues and checks stream tokens."""

    def __init__(
        self,
        secret: bytes,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a stream token secret must not be empty")
        self._secret = secret
        self.ttl = ttl
        self._clock = clock

    @classmethod
    def for_keys(cls, keys: Sequence[str], ttl: float = 300.0) -> StreamTokens:
        """Tokens signed with a secret derived from the API keys (random when there are none)."""
        if keys:
            material = "\0".join(sorted(keys)).encode()
            secret = hashlib.sha256(b"agented stream tokens\0" + material).digest()
        else:
            secret = os.urandom(32)
        return cls(secret, ttl)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def issue(self, execution_id: str) -> StreamToken:
        """A new token for ``execution_id``."""
        expires = int(self._clock() + self.ttl)
        payload = f"{execution_id}\n{expires}".encode()
        token = f"{_b64(payload)}.{_b64(self._mac(payload))}"
        return StreamToken(token, datetime.fromtimestamp(expires, UTC))

    def check(self, token: str, execution_id: str) -> bool:
        """True when ``token`` is genuine, unexpired and for ``execution_id``."""
        encoded, dot, signature = token.partition(".")
        if not dot:
            return False
        try:
            payload = _unb64(encoded)
            mac = _unb64(signature)
        except (binascii.Error, ValueError):
            return False
        # one spelling only: base64 decoding ignores the unused low bits of the last character
        # (and padding), so a token with a changed last character could still decode the same
        if _b64(payload) != encoded or _b64(mac) != signature:
            return False
        if not hmac.compare_digest(mac, self._mac(payload)):
            return False
        name, _, expires = payload.decode("utf-8", "replace").rpartition("\n")
        try:
            deadline = int(expires)
        except ValueError:
            return False
        return hmac.compare_digest(name.encode(), execution_id.encode()) and (
            self._clock() < deadline
        )
