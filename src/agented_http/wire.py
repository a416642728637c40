"""JSON schemas of the models as the core's converter writes them (``to_data``).

:class:`WireSchemas` walks a type the way :data:`agented_core.converter.converter` unstructures
it: an attrs class is a closed object (``additionalProperties: false``) whose every field is
required, since the converter always writes every field; datetimes are ISO 8601 strings, enums
their values, tuples and lists arrays, free-form JSON mappings open objects, and a trigger (the
tagged union) one of the trigger objects, each with its ``type`` tag. Every attrs class becomes a
component, named after the class, so that what ``to_data`` emits is what the schema says
(``tests/test_wire_format.py`` checks it for generated instances of every model).
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from agented_core.converter import TRIGGER_TAG, TRIGGER_TAGS

from .operations import Schema, ref


def _is_mapping(origin: Any) -> bool:
    return origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping))


def _is_sequence(origin: Any) -> bool:
    return origin in (list, tuple, set, frozenset) or (
        isinstance(origin, type) and issubclass(origin, Sequence)
    )


class WireSchemas:
    """JSON schemas of types as ``to_data`` writes them, the attrs classes collected as
    components (:attr:`schemas`)."""

    def __init__(self, tags: Mapping[type, str] = TRIGGER_TAGS, tag_name: str = TRIGGER_TAG):
        self.schemas: dict[str, Schema] = {}
        self._tags = dict(tags)
        self._tag_name = tag_name

    def of(self, tp: Any) -> Schema:
        """The schema of a value of type ``tp`` as data."""
        if tp is Any or tp is object:
            return {}
        if tp is type(None):
            return {"type": "null"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:  # the converter passes an int in a float field through as it is
            return {"type": "number"}
        if tp is str:
            return {"type": "string"}
        if tp is dt.datetime:
            return {"type": "string", "format": "date-time"}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"type": "string", "enum": [m.value for m in tp]}
        if isinstance(tp, type) and attrs.has(tp):
            return self.model(tp)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return self._union(args)
        if _is_mapping(origin):
            value = args[1] if len(args) == 2 else Any
            # free-form JSON (Mapping[str, Any]) passes through: an open object
            return {"type": "object", "additionalProperties": self.of(value)}
        if _is_sequence(origin):
            item = args[0] if args else Any
            return {"type": "array", "items": self.of(item)}
        if origin is typing.Literal:
            return {"enum": list(args)}
        raise TypeError(f"no wire schema for {tp!r}")

    def _union(self, args: tuple[Any, ...]) -> Schema:
        members = [a for a in args if a is not type(None)]
        if members and all(a in self._tags for a in members):
            # the tagged union: each member as its own component, with the tag
            tagged: Schema = {"oneOf": [self.model(a, tagged=True) for a in members]}
            if len(members) < len(args):
                tagged["oneOf"].append({"type": "null"})
            return tagged
        if len(members) == 1 and len(args) == 2:
            return {"anyOf": [self.of(members[0]), {"type": "null"}]}
        return {"anyOf": [self.of(a) for a in args]}

    def model(self, cls: type, tagged: bool = False) -> Schema:
        """A reference to the component of the attrs class ``cls`` (made on first use).

        ``tagged``: ``cls`` is a member of the tagged union, written with its tag.
        """
        name = cls.__name__
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder for recursive models
            hints = typing.get_type_hints(cls)
            # the converter writes every field, under its own name
            properties = {f.name: self.of(hints.get(f.name, Any)) for f in attrs.fields(cls)}
            if tagged:
                properties[self._tag_name] = {"const": self._tags[cls]}
            schema: Schema = {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            }
            if cls.__doc__:
                schema["description"] = cls.__doc__.strip().splitlines()[0]
            self.schemas[name] = schema
        return ref(name)
