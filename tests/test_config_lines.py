"""The TOML line scan: every key of generated TOML texts is found on the line it is written on,
whatever strings, comments and arrays surround it (Hypothesis), and the text is valid TOML."""

from __future__ import annotations

import json
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core.config_lines import TomlLines, locate
from agented_core.errors import Problem

KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
TRICKY = ['a = "b"', "[table]", "[[array]]", "# not a comment", "}", "]", "x = {", "'", '""']
SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('"\\\n\t'), max_size=12
)


@st.composite
def scalar(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["basic", "literal", "multi", "multi_literal", "int", "bool"]))
    if kind == "basic":
        return json.dumps(draw(SAFE_TEXT), ensure_ascii=False)  # JSON escapes are TOML's
    if kind == "literal":
        text = draw(st.text(st.sampled_from('ab =#[]{}"\\,'), max_size=10))
        return f"'{text}'"
    if kind in ("multi", "multi_literal"):
        quote = '"""' if kind == "multi" else "'''"
        body = "\n".join(draw(st.lists(st.sampled_from(TRICKY), max_size=3)))
        return f"{quote}\n{body}\n{quote}"
    if kind == "int":
        return str(draw(st.integers(-1000, 1000)))
    return draw(st.sampled_from(["true", "false"]))


@st.composite
def inline_table(draw: st.DrawFn) -> tuple[str, list[str]]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    values = [draw(scalar().filter(lambda v: "\n" not in v)) for _ in keys]
    return "{ " + ", ".join(f"{k} = {v}" for k, v in zip(keys, values, strict=True)) + " }", keys


@st.composite
def entry(draw: st.DrawFn) -> tuple[str, dict[str, int]]:
    """A value's text and, for keys of inline tables in it, ``{"[i].key" or "key": line offset}``."""
    kind = draw(st.sampled_from(["scalar", "table", "array"]))
    if kind == "scalar":
        return draw(scalar()), {}
    if kind == "table":
        text, keys = draw(inline_table())
        return text, dict.fromkeys(keys, 0)
    found: dict[str, int] = {}
    parts: list[str] = []
    offset = 0
    for index in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            text, keys = draw(inline_table())
            for key in keys:
                found[f"[{index}].{key}"] = offset
        else:
            text = draw(scalar())
        parts.append(text)
        offset += text.count("\n")
        if draw(st.booleans()):
            parts.append(",  # a comment, with [brackets]\n")
            offset += 1
        else:
            parts.append(", ")
    return "[" + "".join(parts) + "]", found


@st.composite
def document(draw: st.DrawFn) -> tuple[str, dict[str, int]]:
    """A TOML text and the line of every field it writes (``table.key``, ``table.key[i].k``)."""
    lines: list[str] = []
    expected: dict[str, int] = {}
    tables = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    for table in tables:
        if draw(st.booleans()):
            lines.append("# a comment: key = value")
        lines.append(f"[{table}]")
        for key in draw(st.lists(KEYS, max_size=4, unique=True)):
            text, inner = draw(entry())
            line = len(lines) + 1
            expected[f"{table}.{key}"] = line
            for path, offset in inner.items():
                sep = "" if path.startswith("[") else "."
                expected[f"{table}.{key}{sep}{path}"] = line + offset
            lines.extend(f"{key} = {text}".split("\n"))
        lines.append("")
    return "\n".join(lines) + "\n", expected


@settings(max_examples=200, deadline=None)
@given(document())
def test_every_written_key_is_found_on_its_line(doc: tuple[str, dict[str, int]]) -> None:
    text, expected = doc
    tomllib.loads(text)  # the generator writes valid TOML
    lines = TomlLines(text)
    for field, line in expected.items():
        if "[" not in field and field.count(".") > 1:
            continue  # a key of an inline table without an index: the first such is fine
        assert lines.line(None, field) == line, (field, text)


def test_bot_fields_and_unknown_fields() -> None:
    text = """[bots.a]
prompt = \"\"\"
[bots.b]
on = [{ github = "push" }]
\"\"\"
on = [
  { manual = true },  # first
  { github = "pull_request", actions = ["opened"] },
]

[[bots.b.on]]
cron = "0 3 * * *"
[[bots.b.on]]
github = "push"
"""
    lines = TomlLines(text)
    assert lines.line("a", None) == 1
    assert lines.line("a", "on") == 6
    assert lines.line("a", "on[1].actions") == 8
    assert lines.line("a", "not_written") == 1  # the nearest enclosing table
    assert lines.line("b", "on[1].github") == 14
    assert lines.line("b", "on[0]") == 11
    assert lines.line("c", "x") is None
    located = locate([Problem("m", bot="a", field="on[1].actions"), Problem("m")], text)
    assert [p.line for p in located] == [8, None]
