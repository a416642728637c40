"""A delivery's payload is logged as the text it arrived in: the same JSON value, not re-encoded."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agented_core.store import ReceivedJSON, entry_json, received

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=6), values, max_size=5)
spellings = st.sampled_from(
    [
        {},
        {"indent": 2},
        {"ensure_ascii": False},
        {"separators": (",", ":")},
        {"indent": "\t", "ensure_ascii": False},
    ]
)


@given(
    entry=objects, payloads=st.dictionaries(st.text(max_size=6), objects, max_size=3), how=spellings
)
def test_the_entry_is_the_same_json_value_whatever_the_payload_text_looks_like(
    entry: dict[str, Any], payloads: dict[str, dict[str, Any]], how: dict[str, Any]
) -> None:
    whole: dict[str, Any] = dict(entry)
    for key, payload in payloads.items():
        whole[key] = ReceivedJSON(payload, json.dumps(payload, **how))
    assert json.loads(entry_json(whole)) == json.loads(json.dumps(whole))


def test_the_text_is_written_as_it_came() -> None:
    text = '{"price": 1.10, "name": "caf\\u00e9"}'  # json.dumps would write 1.1 and "caf\u00e9"
    line = entry_json({"delivery": "d1", "payload": ReceivedJSON(json.loads(text), text)})
    assert line == '{"delivery": "d1", "payload": {"price": 1.10, "name": "caf\\u00e9"}}'
    assert entry_json({"payload": ReceivedJSON({}, "{}")}) == '{"payload": {}}'


def test_only_an_object_in_utf8_keeps_its_text() -> None:
    body = '{"a": "é"}'.encode()
    kept = received({"a": "é"}, body)
    assert isinstance(kept, ReceivedJSON) and kept.text == '{"a": "é"}' and kept == {"a": "é"}
    bom = received({"a": 1}, b'\xef\xbb\xbf{"a": 1}')  # json.loads reads a BOM; the text drops it
    assert isinstance(bom, ReceivedJSON) and bom.text == '{"a": 1}'
    utf16 = '{"a": 1}'.encode("utf-16")
    assert json.loads(utf16) == {"a": 1} and type(received({"a": 1}, utf16)) is dict
    assert received([1, 2], b"[1, 2]") == [1, 2] and type(received([1, 2], b"[1, 2]")) is list
    assert type(received({"a": 1}, None)) is dict
