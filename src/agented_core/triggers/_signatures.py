"""Webhook signatures: the HMAC-SHA256 of the raw body, checked against every configured secret.

GitHub sends ``X-Hub-Signature-256: sha256=<hex>``; a generic source names its own header and
may send the hex bare. Several secrets may be configured at once (rotation): each is tried, in
constant time, before anything of the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from agented_core.errors import InvalidSignature

__all__ = ["SIGNATURE_HEADER", "hmac_matches", "verify_generic_signature", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"


def hmac_matches(body: bytes, digest_hex: str, secrets: Sequence[str]) -> bool:
    """True if ``digest_hex`` is the HMAC-SHA256 of ``body`` under any non-empty secret.

    Every secret is tried (constant-time compares, no early exit), so rotation costs nothing
    and timing tells nothing about which secret matched.
    """
    given = digest_hex.strip().lower().encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        if secret:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
            matched |= hmac.compare_digest(expected, given)
    return matched


def verify_generic_signature(body: bytes, header_value: str | None, secrets: Sequence[str]) -> None:
    """Check a generic source's signature header (``sha256=<hex>`` or bare hex).

    Raises :class:`InvalidSignature` if the header is missing, no secret is configured, or the
    signature matches no secret.
    """
    if not any(secrets):
        raise InvalidSignature("no secret is configured for this webhook source")
    if not header_value or not header_value.strip():
        raise InvalidSignature("the signature header is missing")
    value = header_value.strip()
    if value[:7].lower() == "sha256=":
        value = value[7:]
    if not hmac_matches(body, value, secrets):
        raise InvalidSignature("the signature does not match the body")


def verify_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Check ``X-Hub-Signature-256`` (``sha256=`` + hex HMAC of the raw body) against each secret.

    Raises :class:`InvalidSignature` if no secret is configured, the header is missing or
    malformed, or it matches none of the secrets. Call it before parsing anything.
    """
    if not any(secrets):
        raise InvalidSignature("no GitHub webhook secret is configured")
    if not header or not header.strip():
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    value = header.strip()
    if value[:7].lower() != "sha256=":
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header does not start with 'sha256='")
    if not hmac_matches(body, value[7:], secrets):
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header does not match the body")
