"""Run parameters: declarations in agented.toml, the checks of a run's values, defaults."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import ConfigError, Param, ParamType
from agented_core.config import load_config
from agented_core.params import parse_specs, resolve, with_defaults

DESIGN_EXAMPLE = """
[bots.deploy-notes]
command = ["echo", "{params.message}", "{params.level}", "{params.dry_run}"]
on = [{ manual = true, params = [
  "message",                                             # a required string
  { name = "level", type = "choice", choices = ["low", "high"], default = "low" },
  { name = "dry_run", type = "boolean", default = true, description = "print only" },
] }]
"""

LEVEL = Param("level", "choice", choices=("low", "high"), default="low")
DRY_RUN = Param("dry_run", "boolean", default=True, description="print only")
COUNT = Param("count", "integer", required=False)
RATIO = Param("ratio", "number", default=0.5)
SPECS = (Param("message"), LEVEL, DRY_RUN, COUNT, RATIO)


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "agented.toml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, params: str) -> list[str]:
    text = f'[bots.b]\ncommand = ["true"]\non = [{{ manual = true, params = {params} }}]\n'
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return [str(p) for p in caught.value.problems]


# declarations


def test_the_design_example_reads_into_params(tmp_path: Path) -> None:
    bot = load(tmp_path, DESIGN_EXAMPLE).bots["deploy-notes"]
    assert bot.param_specs == (Param("message"), LEVEL, DRY_RUN)
    assert bot.manual_params == ("message", "level", "dry_run")
    message = bot.param_specs[0]
    assert (message.type, message.required, message.default) == (ParamType.STRING, True, None)
    assert (LEVEL.required, DRY_RUN.required) == (False, False)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ('[{ name = "n", type = "integer", default = "3" }]', "'n': default must be an integer"),
        ('[{ name = "n", type = "integer", default = true }]', "must be an integer; got true"),
        ('[{ name = "x", type = "number", default = "a" }]', "'x': default must be a number"),
        ('[{ name = "b", type = "boolean", default = "yes" }]', "must be true or false"),
        (
            '[{ name = "l", type = "choice", choices = ["a"], default = "b" }]',
            "'l': default must be one of 'a'; got 'b'",
        ),
        ('[{ name = "l", type = "choice" }]', "'l' is a choice and needs 'choices'"),
        ('[{ name = "l", choices = ["a"] }]', "'choices' go with type = \"choice\""),
        ('[{ name = "l", type = "choice", choices = ["a", "a"] }]', "choices repeat"),
        ('[{ name = "l", type = "choice", choices = [1] }]', "'choices': expected a list of"),
        ('[{ name = "t", type = "text" }]', "unknown type 'text' (types: string, integer,"),
        ('[{ name = "r", required = true, default = "x" }]', "'r' has a default"),
        ('[{ name = "r", required = "yes" }]', "'r': 'required': expected true or false"),
        ('[{ name = "d", description = 3 }]', "'d': 'description': expected a string"),
        ('[{ name = "k", kind = "string" }]', "'k': unknown key(s) kind"),
        ('[{ type = "string" }]', "params[0]: a parameter table needs a 'name'"),
        ('["a.b"]', "bad parameter name 'a.b'"),
        ('[""]', "bad parameter name ''"),
        ('["a", { name = "a", default = "x" }]', "declared twice: a"),
        ("[3]", "params[0]: expected a name or a table, got 3"),
        ("3", "expected a list of parameter names or tables"),
    ],
)
def test_bad_declarations_are_load_errors_naming_the_parameter(
    tmp_path: Path, params: str, words: str
) -> None:
    [problem] = problems(tmp_path, params)
    assert "bot 'b': field 'on[0].params'" in problem
    assert words in problem


def test_a_bare_name_alone_and_optional_params(tmp_path: Path) -> None:
    assert parse_specs("who") == (Param("who"),)
    assert parse_specs([{"name": "n", "type": "integer", "required": False}]) == (
        Param("n", "integer", required=False),
    )


def test_python_declarations_are_checked_too() -> None:
    with pytest.raises(ValueError, match="'n': default must be an integer"):
        Param("n", ParamType.INTEGER, default=1.5)
    with pytest.raises(ValueError, match="unknown type 'int'"):
        Param("n", "int")


# a run's values


def test_defaults_are_filled_in_and_optional_params_stay_absent() -> None:
    assert resolve(SPECS, {"message": "hi"}) == {
        "message": "hi",
        "level": "low",
        "dry_run": True,
        "ratio": 0.5,
    }
    given = {"message": "", "level": "high", "dry_run": False, "count": -2, "ratio": 3}
    assert resolve(SPECS, given) == given


def test_every_problem_is_reported_at_once_naming_its_parameter() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(
            SPECS,
            {"level": "mid", "dry_run": "true", "count": 1.0, "ratio": True, "nope": 1},
            bot="b",
        )
    messages = [p.message for p in caught.value.problems]
    assert messages == [
        "unknown parameter(s) nope; declared: message, level, dry_run, count, ratio",
        "missing required parameter 'message'",
        "parameter 'level': value must be one of 'low', 'high'; got 'mid'",
        "parameter 'dry_run': value must be true or false; got 'true'",
        "parameter 'count': value must be an integer; got 1.0",
        "parameter 'ratio': value must be a number; got true",
    ]
    assert {(p.bot, p.field) for p in caught.value.problems} == {("b", "params")}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("0", False),
    ],
)
def test_command_line_booleans(text: str, value: bool) -> None:
    assert resolve([DRY_RUN], {"dry_run": text}, text=True) == {"dry_run": value}


@pytest.mark.parametrize(
    ("param", "text", "value"),
    [
        (COUNT, "42", 42),
        (COUNT, "-7", -7),
        (COUNT, " 8 ", 8),
        (RATIO, "2", 2),
        (RATIO, "2.5", 2.5),
        (RATIO, "-1e3", -1000.0),
        (LEVEL, "high", "high"),
        (Param("s"), " spaced ", " spaced "),
    ],
)
def test_command_line_text_is_coerced(param: Param, text: str, value: Any) -> None:
    result = resolve([param], {param.name: text}, text=True)
    assert result == {param.name: value} and type(result[param.name]) is type(value)


@pytest.mark.parametrize(
    ("param", "text", "words"),
    [
        (COUNT, "4.5", "parameter 'count': value must be an integer; got '4.5'"),
        (COUNT, "1_000", "must be an integer; got '1_000'"),
        (COUNT, "", "must be an integer; got ''"),
        (RATIO, "nan", "parameter 'ratio': value must be a number; got 'nan'"),
        (RATIO, "inf", "must be a number; got 'inf'"),
        (DRY_RUN, "maybe", "parameter 'dry_run': value must be true or false; got 'maybe'"),
        (LEVEL, "HIGH", "must be one of 'low', 'high'; got 'HIGH'"),
    ],
)
def test_bad_command_line_text_is_refused(param: Param, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve([param], {param.name: text}, text=True)
    [message] = [p.message for p in caught.value.problems]
    assert message.startswith(f"parameter '{param.name}': value ") and message.endswith(words)


def test_json_values_are_not_coerced() -> None:
    for param, value in [(COUNT, "3"), (DRY_RUN, "true"), (RATIO, "0.5"), (Param("s"), 3)]:
        with pytest.raises(ConfigError, match=f"parameter '{param.name}'"):
            resolve([param], {param.name: value})


def test_incomplete_runs_and_defaults_only() -> None:
    assert resolve(SPECS, {"count": "3"}, text=True, complete=False) == {
        "count": 3,
        "level": "low",
        "dry_run": True,
        "ratio": 0.5,
    }
    assert with_defaults(SPECS, {"level": "high"}) == {
        "level": "high",
        "dry_run": True,
        "ratio": 0.5,
    }


@given(st.integers(-(10**30), 10**30))
def test_any_integer_survives_the_command_line(number: int) -> None:
    assert resolve([COUNT], {"count": str(number)}, text=True) == {"count": number}
    assert resolve([RATIO], {"ratio": str(number)}, text=True) == {"ratio": number}


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_number_survives_the_command_line(number: float) -> None:
    [value] = resolve([RATIO], {"ratio": repr(number)}, text=True).values()
    assert value == number and math.isfinite(value)


@given(st.text(max_size=20))
def test_command_line_text_is_a_valid_value_or_a_problem_naming_the_parameter(
    text: str,
) -> None:
    for param in SPECS:
        try:
            value = resolve([param], {param.name: text}, text=True)[param.name]
        except ConfigError as exc:
            [message] = [p.message for p in exc.problems]
            assert message.startswith(f"parameter '{param.name}'")
        else:
            assert param.coerce(value) == value  # what the CLI passes on, the API accepts
