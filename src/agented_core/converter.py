"""The one cattrs converter: how every model looks as JSON-ready data.

Datetimes are ISO 8601 strings in UTC, enums their values, tuples lists. Triggers, a union,
carry a ``type`` tag (``github``, ``schedule``, ``manual``, ``webhook``). A run parameter is
always written as a whole table; a bare name is read as a required string parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import cattrs
from cattrs.strategies import configure_tagged_union

from .models import GitHubTrigger, ManualTrigger, ScheduleTrigger, Trigger, WebhookTrigger
from .params import Param

__all__ = [
    "TRIGGER_TAG",
    "TRIGGER_TAGS",
    "converter",
    "from_data",
    "from_json",
    "to_data",
    "to_json",
]

T = TypeVar("T")

TRIGGER_TAGS: dict[type, str] = {
    GitHubTrigger: "github",
    ScheduleTrigger: "schedule",
    ManualTrigger: "manual",
    WebhookTrigger: "webhook",
}
TRIGGER_TAG = "type"
"""The key of a trigger's tag (:data:`TRIGGER_TAGS`) in its data."""


def _unstructure_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


_JSON_MAPPINGS = (Mapping[str, Any], dict[str, Any])


def _is_json_mapping(cls: Any) -> bool:
    return cls in _JSON_MAPPINGS


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(datetime, _structure_datetime)
    # free-form JSON (trigger contexts, webhook payloads, event data) passes through as it is:
    # walking it value by value is the largest cost of saving a webhook's execution
    conv.register_unstructure_hook_func(_is_json_mapping, _as_dict)
    conv.register_structure_hook_func(_is_json_mapping, lambda value, _: _as_dict(value))
    param_table = conv.gen_structure_attrs_fromdict(Param)

    def structure_param(value: Any, _: type) -> Param:
        return Param(value) if isinstance(value, str) else param_table(value, Param)

    conv.register_structure_hook(Param, structure_param)
    configure_tagged_union(
        Trigger,
        conv,
        tag_generator=lambda cls: TRIGGER_TAGS[cls],
        tag_name=TRIGGER_TAG,
    )
    return conv


converter = _make_converter()
"""The converter every module uses to turn models into data and back."""


def to_data(obj: Any) -> Any:
    """A model (or a collection of models) as JSON-ready data."""
    return converter.unstructure(obj)


def from_data(data: Any, cls: type[T]) -> T:
    """Data made by :func:`to_data` back into a ``cls``."""
    return converter.structure(data, cls)


def to_json(obj: Any) -> str:
    """A model as compact JSON text."""
    return json.dumps(to_data(obj), separators=(",", ":"), ensure_ascii=False)


def from_json(text: str | bytes, cls: type[T]) -> T:
    """JSON made by :func:`to_json` back into a ``cls``."""
    return from_data(json.loads(text), cls)
