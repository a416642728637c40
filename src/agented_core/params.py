"""Run parameters: what a manual trigger declares, and how a run's values are checked.

A parameter is declared by name (a required string) or as a table ``{ name, type, default,
required, choices, description }``; :class:`Param` is the declaration either way.
:func:`parse_specs` reads the config form, :func:`resolve` checks a run's values against the
declarations (the API, the CLI and the index page all end there) and fills in the defaults.

Values from JSON must have their type already (``true``, not ``"true"``); values typed on a
command line are text and are coerced with ``text=True``: integers are digits, numbers are
decimal, booleans are ``true/false/1/0/yes/no``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import Factory, field, frozen

from .errors import ConfigError, Problem

__all__ = ["SPEC_KEYS", "Param", "ParamType", "parse_specs", "resolve", "with_defaults"]


class ParamType(enum.StrEnum):
    """The type of a run parameter's value."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"

    @property
    def json_type(self) -> str:
        """The JSON type of a value (a choice is a string)."""
        return "string" if self is ParamType.CHOICE else self.value


_NAME = re.compile(r"[\w-]+")  # a template path segment (see agented_core.run._prompts)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_EXPECTED = {
    ParamType.STRING: "a string",
    ParamType.INTEGER: "an integer",
    ParamType.NUMBER: "a number",
    ParamType.BOOLEAN: "true or false",
}


def _param_type(value: Any) -> ParamType:
    try:
        return ParamType(value)
    except ValueError:
        known = ", ".join(t.value for t in ParamType)
        raise ValueError(f"unknown type {value!r} (types: {known})") from None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return f"a {'list' if isinstance(value, list | tuple) else type(value).__name__}"


@frozen
class Param:
    """One declared run parameter.

    ``required`` defaults to true when there is no ``default``: a run must pass the value.
    ``choices`` go with ``type = "choice"`` (and only with it). A ``default`` must be a valid
    value itself. Bad declarations raise :class:`ValueError` naming the parameter.
    """

    name: str
    type: ParamType = field(default=ParamType.STRING, converter=_param_type)
    default: Any = None
    required: bool = field(default=Factory(lambda self: self.default is None, takes_self=True))
    choices: tuple[str, ...] = field(default=(), converter=tuple)
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"bad parameter name {self.name!r}: use letters, digits, '_' and '-' "
                "(templates reach it as {params.NAME})"
            )
        if self.type is ParamType.CHOICE:
            if not self.choices:
                raise ValueError(f"parameter {self.name!r} is a choice and needs 'choices'")
            if not all(isinstance(c, str) for c in self.choices):
                raise ValueError(f"parameter {self.name!r}: choices are strings")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"parameter {self.name!r}: choices repeat a value")
        elif self.choices:
            raise ValueError(f"parameter {self.name!r}: 'choices' go with type = \"choice\"")
        if self.description is not None and not isinstance(self.description, str):
            raise ValueError(f"parameter {self.name!r}: description is a string")
        if self.default is not None:
            if self.required:
                raise ValueError(
                    f"parameter {self.name!r} has a default, so it is never missing: "
                    "drop 'required' or the default"
                )
            self.coerce(self.default, what="default")

    def coerce(self, value: Any, *, text: bool = False, what: str = "value") -> Any:
        """``value`` as this parameter's type; :class:`ValueError` naming the parameter if not.

        With ``text`` the value is a command line's string and is converted (see the module).
        """
        result = _coerce_text(self, value) if text and isinstance(value, str) else value
        if not _fits(self, result):
            raise ValueError(f"parameter {self.name!r}: {what} {self._expected(value)}")
        return result

    def _expected(self, value: Any) -> str:
        if self.type is ParamType.CHOICE:
            listed = ", ".join(repr(c) for c in self.choices)
            return f"must be one of {listed}; got {_shown(value)}"
        return f"must be {_EXPECTED[self.type]}; got {_shown(value)}"


def _fits(param: Param, value: Any) -> bool:
    kind = param.type
    if kind is ParamType.STRING:
        return isinstance(value, str)
    if kind is ParamType.CHOICE:
        return isinstance(value, str) and value in param.choices
    if kind is ParamType.BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is ParamType.INTEGER:
        return isinstance(value, int)
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _coerce_text(param: Param, text: str) -> Any:
    """A command line's string as the parameter's type, or the string itself if it is not one
    (the caller's check then refuses it)."""
    kind = param.type
    word = text.strip()
    if kind is ParamType.INTEGER and _INTEGER.fullmatch(word):
        return int(word)
    if kind is ParamType.NUMBER and _NUMBER.fullmatch(word):
        return int(word) if _INTEGER.fullmatch(word) else float(word)
    if kind is ParamType.BOOLEAN and word.lower() in _TRUE | _FALSE:
        return word.lower() in _TRUE
    return text


def _check(expected: type, label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {label}, got {_shown(value)}")
        return value

    return check


def _choices(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise TypeError("expected a list of strings")
    return value


SPEC_KEYS: Mapping[str, Callable[[Any], Any]] = {
    "name": _check(str, "a string"),
    "type": _param_type,
    "default": lambda value: value,
    "required": _check(bool, "true or false"),
    "choices": _choices,
    "description": _check(str, "a string"),
}
"""The keys of a parameter table in ``agented.toml``, and how each is read."""


def _spec(item: Any, index: int) -> Param:
    if isinstance(item, str):
        return Param(item)
    if not isinstance(item, Mapping):
        raise TypeError(f"params[{index}]: expected a name or a table, got {_shown(item)}")
    label = repr(item["name"]) if isinstance(item.get("name"), str) else f"params[{index}]"
    unknown = sorted(set(item) - set(SPEC_KEYS))
    if unknown:
        known = ", ".join(SPEC_KEYS)
        raise ValueError(f"parameter {label}: unknown key(s) {', '.join(unknown)} ({known})")
    if "name" not in item:
        raise ValueError(f"params[{index}]: a parameter table needs a 'name'")
    values: dict[str, Any] = {}
    for key, value in item.items():
        try:
            values[key] = SPEC_KEYS[key](value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {label}: '{key}': {exc}") from None
    return Param(**values)


def parse_specs(value: Any) -> tuple[Param, ...]:
    """The ``params`` list of a manual trigger in ``agented.toml`` (a name, or a list of names
    and tables). Raises :class:`ValueError` or :class:`TypeError` naming the parameter."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TypeError("expected a list of parameter names or tables")
    specs = tuple(_spec(item, index) for index, item in enumerate(items))
    names = [p.name for p in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"parameter(s) declared twice: {', '.join(repeated)}")
    return specs


def as_param(value: Param | str) -> Param:
    """A declaration from a :class:`Param` or a bare name (a required string)."""
    return value if isinstance(value, Param) else Param(value)


def as_params(value: Iterable[Param | str] | str) -> tuple[Param, ...]:
    """Declarations from a name, or from a list of names and :class:`Param` objects."""
    if isinstance(value, str | Param):
        return (as_param(value),)
    return tuple(as_param(v) for v in value)


def resolve(
    specs: Sequence[Param],
    values: Mapping[str, Any],
    *,
    bot: str | None = None,
    text: bool = False,
    complete: bool = True,
) -> dict[str, Any]:
    """A run's ``values`` checked against ``specs``, with the defaults filled in.

    Raises :class:`ConfigError` listing every problem: unknown names, missing required
    parameters and values of the wrong type, each naming the parameter. An optional parameter
    without a default that the run leaves out stays absent (a template renders it empty).
    ``text`` coerces command-line strings first (see the module docstring). With
    ``complete=False`` a missing required parameter is no problem (a run that no manual trigger
    started, such as ``agented run --payload``, need not pass them).
    """
    declared = {p.name: p for p in specs}
    problems: list[str] = []
    unknown = sorted(set(values) - set(declared))
    if unknown:
        listed = ", ".join(declared) or "none"
        problems.append(f"unknown parameter(s) {', '.join(unknown)}; declared: {listed}")
    out: dict[str, Any] = {}
    for name, param in declared.items():
        if name in values:
            try:
                out[name] = param.coerce(values[name], text=text)
            except ValueError as exc:
                problems.append(str(exc))
        elif param.default is not None:
            out[name] = param.default
        elif param.required and complete:
            problems.append(f"missing required parameter {name!r}")
    if problems:
        raise ConfigError([Problem(m, bot=bot, field="params") for m in problems])
    return out


def with_defaults(specs: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the default of every declared parameter they leave out (no checks:
    for runs no manual trigger started, whose params are not the caller's)."""
    out = dict(values)
    for param in specs:
        if param.name not in out and param.default is not None:
            out[param.name] = param.default
    return out
