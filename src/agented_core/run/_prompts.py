"""Prompt templates: ``{dotted.path}`` placeholders over a context of plain mappings.

Syntax
    ``{pr.title}`` looks ``pr`` up in the context, then ``title`` in that mapping. A segment made
    of digits indexes a list: ``{pr.labels.0}``. Segments are letters, digits, ``_`` and ``-``.
    Lookups go through mapping keys and list indices only: never attributes, never code, so
    ``{__class__}`` or ``{a.__dict__}`` find nothing unless the context has such a *key*.
    ``{{`` and ``}}`` are literal braces; a lone ``}`` or an unclosed ``{`` is an error.

Filters
    ``{path|fence}`` wraps the value in a Markdown code fence with the info string
    ``untrusted``. The fence is one backtick longer than the longest run of backticks inside
    the value (at least three), so text from an untrusted author (PR bodies, comments) cannot
    close it; injected instructions stay quoted. ``{path|json}`` renders the value as JSON
    (strings get quotes). Both may be combined: ``{payload|json|fence}``.

Values
    ``None`` renders as the empty string (``pr.body`` is ``null`` in real payloads), and so does
    any path that passes through ``None``. ``True``/``False`` render as ``true``/``false``;
    mappings and lists render as JSON. A value longer than ``max_field_chars`` is cut and gets
    the visible marker ``… [truncated N chars]``; the cut happens before fencing, so the fence
    always closes.

Missing keys
    With ``missing="error"`` (the default) a path the context lacks raises :class:`TemplateError`
    naming the path and the template. With ``missing="empty"`` it renders as the empty string;
    runs use that mode, because :func:`check` has already refused unknown keys at load and a
    key then absent at run time comes from another trigger of the bot or from a sparse payload.

Every error a template or context can cause is a :class:`TemplateError`.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from attrs import frozen

from agented_core.errors import TemplateError
from agented_core.run._codeargs import code_problems


class Shape(Protocol):
    """The keys a context provides (a trigger's ``ContextShape``), as :func:`check` reads them."""

    def problem(self, path: str) -> str | None:
        """What is wrong with ``path`` in this context, or ``None`` when it is provided."""
        ...


__all__ = [
    "FILTERS",
    "Missing",
    "check",
    "check_command",
    "escape",
    "fence",
    "placeholders",
    "render",
    "render_argv",
    "render_workdir",
    "resolve",
]

Missing = Literal["error", "empty"]
"""What :func:`render` does with a path the context lacks."""

FILTERS = frozenset({"fence", "json"})
"""The filters a placeholder may name after ``|``."""

TRUNCATION_MARKER = "… [truncated {n} chars]"

_SEGMENT = r"[\w-]+"
_EXPR = re.compile(rf"({_SEGMENT}(?:\.{_SEGMENT})*)((?:\|\w+)*)")


@frozen
class _Field:
    """One placeholder of a parsed template."""

    path: tuple[str, ...]
    filters: frozenset[str]
    source: str

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _describe(template: str) -> str:
    shown = template if len(template) <= 80 else template[:77] + "..."
    return f"template {shown!r}"


@functools.lru_cache(maxsize=1024)
def _parse(template: str) -> tuple[str | _Field, ...]:
    parts: list[str | _Field] = []
    text: list[str] = []
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char in "{}" and template.startswith(char * 2, i):
            text.append(char)
            i += 2
        elif char == "}":
            raise TemplateError(
                f"single '}}' at position {i} in {_describe(template)}; write '}}}}' for a brace"
            )
        elif char == "{":
            end = template.find("}", i + 1)
            inner = template[i + 1 : end] if end != -1 else ""
            if end == -1 or "{" in inner:
                raise TemplateError(
                    f"unclosed '{{' at position {i} in {_describe(template)}; "
                    "write '{{' for a brace"
                )
            parts.append("".join(text))
            text.clear()
            parts.append(_parse_field(inner.strip(), template, i))
            i = end + 1
        else:
            text.append(char)
            i += 1
    parts.append("".join(text))
    return tuple(p for p in parts if p != "")


def _parse_field(inner: str, template: str, pos: int) -> _Field:
    found = _EXPR.fullmatch(inner)
    if found is None:
        raise TemplateError(
            f"invalid placeholder {{{inner}}} at position {pos} in {_describe(template)}: "
            "use {dotted.path} or {dotted.path|fence}, and '{{' '}}' for literal braces"
        )
    names = [f for f in found.group(2).split("|") if f]
    for name in names:
        if name not in FILTERS:
            raise TemplateError(
                f"unknown filter {name!r} in {{{inner}}} in {_describe(template)}; "
                f"known filters: {', '.join(sorted(FILTERS))}"
            )
    return _Field(tuple(found.group(1).split(".")), frozenset(names), "{" + inner + "}")


def escape(text: str) -> str:
    """Return ``text`` with its braces doubled, so that it renders as itself."""
    return text.replace("{", "{{").replace("}", "}}")


def placeholders(template: str) -> list[str]:
    """The dotted paths ``template`` uses, each once, in order. Raises :class:`TemplateError`."""
    seen: dict[str, None] = {}
    for part in _parse(template):
        if isinstance(part, _Field):
            seen.setdefault(part.dotted)
    return list(seen)


class _Absent:
    """Marks a path the context does not have (distinct from a ``None`` value)."""


_ABSENT = _Absent()


def _lookup(context: Any, path: Sequence[str]) -> Any:
    current = context
    for segment in path:
        if current is None:
            return None
        if isinstance(current, Mapping):
            if segment not in current:
                return _ABSENT
            current = current[segment]
        elif isinstance(current, Sequence) and not isinstance(current, str | bytes | bytearray):
            if not (segment.isascii() and segment.isdigit() and len(segment) < 19):
                return _ABSENT
            if int(segment) >= len(current):
                return _ABSENT
            current = current[int(segment)]
        else:
            return _ABSENT
    return current


def resolve(context: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path``; ``None`` if the path passes through ``None``.

    Mapping keys and list indices only. Raises :class:`KeyError` if the path is absent.
    """
    value = _lookup(context, path.split("."))
    if value is _ABSENT:
        raise KeyError(path)
    return value


def _format(value: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Mapping) or (isinstance(value, Sequence) and not isinstance(value, str)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def fence(text: str) -> str:
    """Wrap ``text`` in a code fence it cannot close (see the module docstring)."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{bar}untrusted\n{body}{bar}"


def _truncate(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(n=len(text) - limit)


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    max_field_chars: int | None = 20000,
    missing: Missing = "error",
) -> str:
    """Render ``template`` against ``context`` (see the module docstring for the rules).

    ``max_field_chars`` bounds each substituted value (``None``: no bound; otherwise it must be
    positive, else :class:`ValueError`). Raises :class:`TemplateError` for a malformed template,
    a path the context lacks (with ``missing="error"``) or a value that cannot be rendered.
    """
    if max_field_chars is not None and max_field_chars < 1:
        raise ValueError(f"max_field_chars must be positive, not {max_field_chars}")
    out: list[str] = []
    for part in _parse(template):
        if isinstance(part, str):
            out.append(part)
            continue
        value = _lookup(context, part.path)
        if value is _ABSENT:
            if missing == "error":
                raise TemplateError(
                    f"no key {part.dotted!r} in the context of {_describe(template)}"
                )
            value = None
        try:
            text = _format(value, "json" in part.filters)
        except (TypeError, ValueError, RecursionError) as exc:
            raise TemplateError(
                f"cannot render {part.dotted!r} in {_describe(template)}: {exc}"
            ) from None
        text = _truncate(text, max_field_chars)
        out.append(fence(text) if "fence" in part.filters else text)
    return "".join(out)


def check(template: str, shape: Shape) -> list[str]:
    """Problems of ``template`` against the keys ``shape`` provides; empty if it is fine.

    A malformed template gives one problem; each unknown path gives one, with a suggestion
    when a close key exists, e.g. ``unknown key 'pr.titel' (did you mean 'pr.title'?)``.
    """
    try:
        paths = placeholders(template)
    except TemplateError as exc:
        return [str(exc)]
    return [p for p in (shape.problem(path) for path in paths) if p is not None]


def render_argv(
    argv: Sequence[str],
    context: Mapping[str, Any],
    *,
    max_field_chars: int | None = 20000,
    missing: Missing = "error",
) -> tuple[str, ...]:
    """Render each element of ``argv`` on its own (no shell, no splitting)."""
    return tuple(
        render(arg, context, max_field_chars=max_field_chars, missing=missing) for arg in argv
    )


def check_command(argv: Sequence[str], stdin: str | None = None) -> list[str]:
    """Problems of a command template: malformed elements, and placeholders that reach code.

    A value substituted into the script of ``sh -c`` (or ``bash -c``, ``python -c``,
    ``node -e`` ...), into an interpreter's options, or into a prompt an interpreter reads
    from stdin (``stdin``, the prompt template) would be run as code, so it is refused; pass
    the value as a separate argument after the script instead
    (``sh -c 'echo "$1"' sh '{pr.title}'``). The rule is in :mod:`agented_core.run._codeargs`.
    """
    problems: list[str] = []
    templated: dict[int, str] = {}
    for i, arg in enumerate(argv):
        try:
            used = placeholders(arg)
        except TemplateError as exc:
            problems.append(str(exc))
            continue
        if used:
            templated[i] = used[0]
    prompt_field: str | None = None
    if stdin:
        try:
            prompt_field = next(iter(placeholders(stdin)), None)
        except TemplateError:
            prompt_field = None  # reported where the prompt is checked
    problems.extend(code_problems(argv, templated, prompt_field))
    return problems


def render_workdir(
    template: str,
    context: Mapping[str, Any],
    base: Path,
    *,
    missing: Missing = "error",
) -> Path:
    """Render a workdir template into a path under its root; refuse any escape.

    The root is ``base`` joined with the template's literal directory before its first
    placeholder (a leading ``~`` is expanded; an absolute literal replaces ``base``: both are
    the config author's choice). Substituted values may add directories below the root but
    never ``..``, an absolute path, a NUL byte, a symbolic link that leads out of the root, or
    anything else that leaves the root: those raise :class:`TemplateError`. The path returned
    is the real one (symbolic links resolved), the one that was checked.
    """
    rendered = render(template, context, max_field_chars=None, missing=missing)
    if "\x00" in rendered:
        raise TemplateError(f"workdir {_describe(template)} renders a NUL byte")
    parts = _parse(template)
    first = next((k for k, p in enumerate(parts) if isinstance(p, _Field)), len(parts))
    literal = "".join(p for p in parts[:first] if isinstance(p, str))
    if first < len(parts):
        literal = literal[: literal.rfind("/") + 1]
    tail = rendered[len(literal) :]
    literal_root = os.path.expanduser(literal) if literal.startswith("~") else literal
    root = Path(os.path.normpath(base / literal_root))
    result = Path(os.path.normpath(base / (literal_root + tail)))
    escapes = tail.startswith("/") or ".." in tail.split("/")
    if escapes or (result != root and root not in result.parents):
        raise TemplateError(
            f"workdir {_describe(template)} renders {rendered!r}, which leaves {str(root)!r}"
        )
    # by real path too: a symlink below the root (wd/link -> /etc) must not lead out of it
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(result))
    if real != real_root and real_root not in real.parents:
        raise TemplateError(
            f"workdir {_describe(template)} renders {rendered!r}, which resolves to "
            f"{str(real)!r} outside {str(real_root)!r} (through a symbolic link)"
        )
    return real
