"""GitHub delivery signatures and body parsing, with JSON and form-encoded bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core.errors import (
    BadPayload,
    InvalidSignature,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from agented_core.triggers._github import parse_body, verify_signature

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
FILES = sorted(FIXTURES.glob("*.json"))

SECRET = "s3cret-new"
OLD = "s3cret-old"
FORM = "application/x-www-form-urlencoded"
LIMIT = 1 << 20


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encodings(path: Path) -> list[tuple[bytes, str]]:
    """The fixture as GitHub sends it in either content type: (raw body, content type)."""
    raw = path.read_bytes()
    return [(raw, "application/json"), (urlencode({"payload": raw.decode()}).encode(), FORM)]


def test_fixtures_are_present() -> None:
    assert len(FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_good_signatures_in_both_encodings(path: Path) -> None:
    expected = json.loads(path.read_text())
    for body, content_type in encodings(path):
        verify_signature(body, sign(body), [SECRET])
        assert parse_body(body, content_type, max_bytes=LIMIT) == expected


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_tampered_bodies_fail_in_both_encodings(path: Path) -> None:
    for body, _ in encodings(path):
        signature = sign(body)
        tampered = body.replace(b"Codertocat", b"Codertocats", 1)
        if tampered == body:
            tampered = body + b" "
        with pytest.raises(InvalidSignature):
            verify_signature(tampered, signature, [SECRET])


def test_rotation_accepts_any_configured_secret() -> None:
    body = b'{"zen": "ok"}'
    verify_signature(body, sign(body, OLD), [SECRET, OLD])
    verify_signature(body, sign(body, SECRET), ["", SECRET])
    with pytest.raises(InvalidSignature):
        verify_signature(body, sign(body, OLD), [SECRET])


@pytest.mark.parametrize(
    ("header", "secrets", "needle"),
    [
        (None, [SECRET], "missing"),
        ("", [SECRET], "missing"),
        ("sha1=" + "0" * 40, [SECRET], "sha256="),
        ("0" * 64, [SECRET], "sha256="),
        ("sha256=" + "0" * 64, [SECRET], "does not match"),
        ("sha256=zz\u00e9\ud800", [SECRET], "does not match"),
        ("sha256=abc", [], "no GitHub webhook secret"),
        ("sha256=abc", [""], "no GitHub webhook secret"),
    ],
)
def test_bad_signatures(header: str | None, secrets: list[str], needle: str) -> None:
    with pytest.raises(InvalidSignature, match=needle):
        verify_signature(b"{}", header, secrets)


def test_signature_prefix_and_hex_case_are_lenient() -> None:
    body = b"{}"
    digest = sign(body)[7:]
    verify_signature(body, "SHA256=" + digest.upper(), [SECRET])
    verify_signature(body, " sha256=" + digest + " ", [SECRET])


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200), header=st.text(max_size=80))
def test_arbitrary_headers_only_raise_invalid_signature(body: bytes, header: str) -> None:
    try:
        verify_signature(body, header, [SECRET])
    except InvalidSignature:
        return
    assert header.strip().lower() == sign(body).lower()


def test_size_limit_comes_first() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_body(b"x" * 11, "text/plain", max_bytes=10)
    assert parse_body(b"[1, 2, 3 ]", "application/json", max_bytes=10) == [1, 2, 3]


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "multipart/form-data"])
def test_other_content_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"{}", content_type, max_bytes=LIMIT)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=utf-8", "application/vnd.github+json"],
)
def test_json_content_types(content_type: str) -> None:
    assert parse_body(b'{"a": 1}', content_type, max_bytes=LIMIT) == {"a": 1}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe{", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"other=1", FORM),
        (b"payload=1&payload=2", FORM),
        (b"payload=%7Bbad", FORM),
        (b"\xff", FORM),
    ],
)
def test_unparseable_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(BadPayload):
        parse_body(body, content_type, max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), (b"  \n", "application/json"), (b"null", "application/json"),
     (b"payload=", FORM), (b"payload=null", FORM)],
)  # fmt: skip
def test_empty_and_null_bodies_give_none(body: bytes, content_type: str) -> None:
    assert parse_body(body, content_type, max_bytes=LIMIT) is None
