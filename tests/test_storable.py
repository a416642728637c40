"""The storable check's fast path never lets a lone surrogate through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core.errors import BadPayload
from agented_core.storable import require_storable_json, unstorable

texts = st.text(alphabet=st.characters(codec=None), max_size=8) | st.sampled_from(
    ["\ud800", "\udfff", "a\udc00b", "\\ud800", "\U0001f600", "\\\\ud800"]
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


@given(values, st.booleans())
def test_the_fast_path_agrees_with_the_walk(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only)
    try:
        data = raw.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(value).encode()  # raw text with a surrogate has no UTF-8 form
    parsed = json.loads(data)
    if unstorable(parsed) is None:
        require_storable_json(data, parsed, "the body")
    else:
        with pytest.raises(BadPayload):
            require_storable_json(data, parsed, "the body")


def test_a_lone_surrogate_is_named_by_its_place() -> None:
    raw = b'{"pull_request": {"title": "x\\ud800"}}'
    with pytest.raises(BadPayload, match=r"pull_request\.title"):
        require_storable_json(raw, json.loads(raw), "the body")
    pair = b'{"t": "\\ud83d\\ude00"}'  # a valid pair: the walk runs and passes
    require_storable_json(pair, json.loads(pair), "the body")
