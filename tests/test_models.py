"""Every model round-trips through JSON with the one converter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agented_core import Bot, Event, Execution, converter, from_json, to_json
from agented_core.durations import format_duration, parse_duration
from agented_core.models import (
    Account,
    ChainEntry,
    Concurrency,
    ErrorKind,
    GitHubTrigger,
    ManualTrigger,
    ScheduleTrigger,
    Status,
    Trigger,
    TriggerKind,
    Usage,
    WebhookTrigger,
)
from agented_core.params import Param, ParamType

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
words = st.lists(names, max_size=3).map(tuple)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
param_names = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
choice_lists = st.lists(names, min_size=1, max_size=3, unique=True).map(tuple)


@st.composite
def typed_params(draw: st.DrawFn) -> Param:
    """A parameter declaration of any type, with or without a valid default."""
    kind = draw(st.sampled_from(ParamType))
    values: dict[ParamType, st.SearchStrategy[Any]] = {
        ParamType.STRING: names,
        ParamType.INTEGER: st.integers(-(2**53), 2**53),
        ParamType.NUMBER: st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False),
        ParamType.BOOLEAN: st.booleans(),
    }
    choices = draw(choice_lists) if kind is ParamType.CHOICE else ()
    value = st.sampled_from(choices) if choices else values[kind]
    default = draw(st.none() | value)
    required = draw(st.booleans()) if default is None else False
    return Param(
        draw(param_names),
        kind,
        default=default,
        required=required,
        choices=choices,
        description=draw(st.none() | names),
    )


params = st.lists(param_names | typed_params(), max_size=3)
triggers = st.one_of(
    st.builds(
        GitHubTrigger,
        event=names,
        actions=words,
        repos=words,
        branches=words,
        labels=words,
        paths=words,
        authors=words,
        commands=words,
        ignore_bots=st.booleans(),
    ),
    st.builds(ScheduleTrigger, cron=names, timezone=st.none() | names, jitter=st.floats(0, 1e6)),
    st.builds(ManualTrigger, params=params),
    st.builds(WebhookTrigger, source=names, filters=st.dictionaries(names, words, max_size=2)),
)
bots = st.builds(
    Bot,
    name=names,
    provider=names,
    account=st.none() | names,
    fallback=st.lists(
        st.builds(ChainEntry, provider=names, account=st.none() | names), max_size=2
    ).map(tuple),
    model=st.none() | names,
    prompt=st.none() | names,
    command=words,
    triggers=st.lists(triggers, max_size=4).map(tuple),
    timeout=st.none() | st.floats(0.1, 1e6),
    max_cost_usd=st.none() | st.floats(0, 100),
    max_tokens=st.none() | st.integers(1, 10**9),
    concurrency=st.builds(
        Concurrency, limit=st.none() | st.integers(1, 9), group=st.none() | names
    ),
    env=st.dictionaries(names, names, max_size=2),
    options=st.dictionaries(names, json_values, max_size=3),
)
usages = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**9),
    output_tokens=st.integers(0, 10**9),
    cost_usd=st.none() | st.floats(0, 1e4),
)
executions = st.builds(
    Execution,
    id=names,
    bot=names,
    trigger=st.sampled_from(TriggerKind),
    status=st.sampled_from(Status),
    created_at=st.none() | times,
    finished_at=st.none() | times,
    params=st.dictionaries(names, json_values, max_size=3),
    context=st.dictionaries(names, json_values, max_size=3),
    command=words,
    error_kind=st.none() | st.sampled_from(ErrorKind),
    usage=usages,
    retry_at=st.none() | times,
    pgid=st.none() | st.integers(1, 2**22),
)
events = st.builds(
    Event,
    execution_id=names,
    seq=st.integers(1, 10**9),
    time=times,
    attempt=st.integers(1, 9),
    kind=names,
    text=st.none() | names,
    data=st.dictionaries(names, json_values, max_size=3),
)


@given(bots)
def test_bot_round_trips(bot: Bot) -> None:
    assert from_json(to_json(bot), Bot) == bot


@given(executions)
def test_execution_round_trips(execution: Execution) -> None:
    assert from_json(to_json(execution), Execution) == execution


@given(events)
def test_event_round_trips(event: Event) -> None:
    assert from_json(to_json(event), Event) == event


@given(st.builds(Account, name=names, provider=names, env=st.dictionaries(names, names)))
def test_account_round_trips(account: Account) -> None:
    assert from_json(to_json(account), Account) == account


def test_trigger_union_is_tagged() -> None:
    data = converter.unstructure(Bot(name="b", triggers=(ManualTrigger(params=("x",)),)))
    assert data["triggers"] == [
        {
            "type": "manual",
            "params": [
                {
                    "name": "x",
                    "type": "string",
                    "default": None,
                    "required": True,
                    "choices": [],
                    "description": None,
                }
            ],
            "extra": {},
        }
    ]


@given(params)
def test_a_bare_name_and_its_table_read_as_the_same_param(declared: list[Param | str]) -> None:
    """Both forms of a declaration: a bare name is a required string, a table is whole."""
    trigger = ManualTrigger(params=declared)
    as_data = [p if isinstance(p, str) else converter.unstructure(p) for p in declared]
    read = converter.structure({"type": "manual", "params": as_data}, Trigger)
    assert read == trigger
    assert trigger.names == tuple(p if isinstance(p, str) else p.name for p in declared)
    assert all(isinstance(p, Param) for p in trigger.params)
    assert from_json(to_json(Bot("b", triggers=(trigger,))), Bot).triggers == (trigger,)


def test_bare_names_are_required_strings() -> None:
    assert ManualTrigger(params=["who"]) == ManualTrigger(params=[Param("who")])
    assert Param("who") == Param("who", ParamType.STRING, required=True)
    assert Param("n", "integer", default=3).required is False


def test_terminal_statuses() -> None:
    assert {s for s in Status if s.terminal} == {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.BUDGET_EXCEEDED,
        Status.INTERRUPTED,
        Status.SKIPPED,
    }


@given(st.integers(1, 10**6))
def test_durations_parse_their_own_format(seconds: int) -> None:
    text = format_duration(seconds)
    assert abs(parse_duration(text) - seconds) < 60  # the short form drops seconds past an hour


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_compound_durations(h: int, m: int, s: int) -> None:
    parts = f"{h}h{m}m{s}s"
    assert parse_duration(parts if h or m or s else "1s") == (h * 3600 + m * 60 + s or 1)


def test_bad_durations() -> None:
    import pytest

    for bad in ["", "soon", "10 parsecs", "-5m", "0s", "5m soon", True]:
        with pytest.raises(ValueError):
            parse_duration(bad)
