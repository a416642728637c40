"""Generic webhook sources: signatures, field filters and context."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from agented_core.errors import InvalidSignature
from agented_core.models import WebhookTrigger
from agented_core.triggers._generic import (
    build_generic_context,
    check_filters,
    match_filters,
    verify_generic_signature,
)

SECRET = "alerts-secret"
BODY = b'{"alert": {"status": "firing", "severity": 3, "labels": ["db", "prod"]}}'
PAYLOAD: dict[str, Any] = {
    "action": "fired",
    "alert": {"status": "firing", "severity": 3, "resolved": False, "labels": ["db", "prod"]},
    "service": None,
    "items": [{"name": "a"}, {"name": "b"}],
}


def digest(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_bare_or_prefixed() -> None:
    verify_generic_signature(BODY, digest(BODY), [SECRET])
    verify_generic_signature(BODY, "sha256=" + digest(BODY), [SECRET])
    verify_generic_signature(BODY, digest(BODY, "old"), [SECRET, "old"])


@pytest.mark.parametrize(
    ("body", "header", "secrets"),
    [
        (BODY + b" ", digest(BODY), [SECRET]),
        (BODY, digest(BODY, "wrong"), [SECRET]),
        (BODY, "sha1=" + digest(BODY), [SECRET]),
        (BODY, None, [SECRET]),
        (BODY, "  ", [SECRET]),
        (BODY, digest(BODY), []),
        (BODY, "\u00e9\ud800", [SECRET]),
    ],
)
def test_bad_signatures(body: bytes, header: str | None, secrets: list[str]) -> None:
    with pytest.raises(InvalidSignature):
        verify_generic_signature(body, header, secrets)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"alert.status": ("firing",)},
        {"alert.status": ("fir*",), "alert.severity": ("3",)},
        {"alert.resolved": ("false",)},
        {"alert.labels": ("prod",)},
        {"items.1.name": ("b",)},
        {"service": ("null",)},
        {"alert.status": "firing"},  # a single glob given as a string
    ],
)
def test_matching_filters(filters: dict[str, Any]) -> None:
    assert match_filters(filters, PAYLOAD) is None


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        (
            {"alert.status": ("resolved",)},
            "field 'alert.status' is 'firing', matching none of ['resolved']",
        ),
        ({"alert.missing": ("*",)}, "field 'alert.missing' is missing from the body"),
        ({"alert": ("*",)}, "field 'alert' is an object, which no glob matches"),
        (
            {"alert.labels": ("dev",)},
            "field 'alert.labels' is ['db', 'prod'], matching none of ['dev']",
        ),
        ({"items.5.name": ("a",)}, "field 'items.5.name' is missing from the body"),
        (
            {"alert.status": ("FIRING",)},
            "field 'alert.status' is 'firing', matching none of ['FIRING']",
        ),
    ],
)
def test_failing_filters_say_why(filters: dict[str, Any], reason: str) -> None:
    assert match_filters(filters, PAYLOAD) == reason


@pytest.mark.parametrize("payload", [None, [], "text", 5])
def test_non_object_bodies_match_only_without_filters(payload: Any) -> None:
    assert match_filters({}, payload) is None
    assert match_filters({"a": ("*",)}, payload) == "field 'a' is missing from the body"


def test_context() -> None:
    context = build_generic_context("alerts", PAYLOAD, "d-9")
    assert context == {
        "trigger": "webhook",
        "source": "alerts",
        "event": "alerts",
        "action": "fired",
        "delivery": "d-9",
        "payload": PAYLOAD,
    }
    assert build_generic_context("alerts", None, None)["action"] is None
    assert build_generic_context("alerts", {"action": 3}, None)["action"] is None


def test_check_filters() -> None:
    assert check_filters(WebhookTrigger("alerts", {"alert.status": ("firing",)})) == []
    assert check_filters(WebhookTrigger("github")) != []
    assert check_filters(WebhookTrigger("")) != []
    assert any("dotted path" in p for p in check_filters(WebhookTrigger("a", {"x..y": ("*",)})))
    assert any("glob" in p for p in check_filters(WebhookTrigger("a", {"x": ()})))
