"""One wire format: what ``to_data`` emits for a model is what its OpenAPI component says.

Hypothesis builds instances of every model the API shows (executions with their attempts and
usage, events, bots with every kind of trigger, parameters, ...); their data, as JSON, must
validate against the component of ``/openapi.json`` with closed objects (no key the schema does
not name, every key it requires).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agented_core import (
    Bot,
    Event,
    Execution,
    GitHubTrigger,
    ManualTrigger,
    Param,
    ParamType,
    ScheduleTrigger,
    WebhookTrigger,
    converter,
    to_data,
)
from agented_core.models import AttemptRecord, ChainEntry, Concurrency, Trigger, Usage
from agented_core.triggers import DeliveryResult, DryRun
from agented_http import Settings, create_app, openapi
from agented_http.openapi import document, operations
from agented_http.operations import Operation, mismatch
from agented_http.shapes import bot_data, event_data, execution_data, execution_summary
from agented_http.webhooks import delivery_data, dry_run_data
from agented_http.wire import WireSchemas
from conftest import OpenAgented, shell_bot

SCHEMAS = document("agented", "/agented")["components"]["schemas"]
TRIGGERS = (GitHubTrigger, ScheduleTrigger, ManualTrigger, WebhookTrigger)


def validator(name: str) -> Any:
    """A validator of the component ``name`` (its references resolved in the document)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    return jsonschema_rs.validator_for(root, validate_formats=True)


def wire(data: Any) -> Any:
    """Data as a client reads it: through JSON."""
    return json.loads(json.dumps(data))


def assert_fits(name: str, data: Any) -> None:
    errors = [e.message for e in validator(name).iter_errors(wire(data))]
    assert not errors, (name, errors, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
DATETIMES = st.datetimes(  # within a year of the ends, a shift to UTC would leave the range
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,8}", fullmatch=True)


@st.composite
def params(draw: st.DrawFn) -> Param:
    kind = draw(st.sampled_from(list(ParamType)))
    if kind is ParamType.CHOICE:
        choices = draw(st.lists(st.text(max_size=5), min_size=1, max_size=3, unique=True))
        default = draw(st.none() | st.sampled_from(choices))
        return Param(draw(NAMES), kind, default, choices=choices)
    return Param(draw(NAMES), kind, description=draw(st.none() | st.text(max_size=10)))


SPECIAL: dict[Any, st.SearchStrategy[Any]] = {
    Any: JSON,
    datetime: DATETIMES,
    Param: params(),
    float: st.floats(allow_nan=False, allow_infinity=False),
    str: st.text(max_size=12),
}


def strategy(tp: Any) -> st.SearchStrategy[Any]:
    """Values of type ``tp``: attrs classes field by field, the rest from their annotations."""
    if tp in SPECIAL:
        return SPECIAL[tp]
    if isinstance(tp, type) and attrs.has(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: strategy(hints[f.name]) for f in attrs.fields(tp) if f.init}
        return st.builds(tp, **fields)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy(a) for a in args))
    if origin is tuple:
        return st.lists(strategy(args[0]), max_size=3).map(tuple)
    if origin is list:
        return st.lists(strategy(args[0]), max_size=3)
    if origin in (dict, Mapping):
        return st.dictionaries(st.text(max_size=6), strategy(args[1]), max_size=3)
    if tp is type(None):
        return st.none()
    return st.from_type(tp)


@pytest.mark.parametrize("cls", [Execution, Event, AttemptRecord, Usage, Param, ChainEntry,
                                 Concurrency])  # fmt: skip
def test_to_data_of_every_model_fits_its_component(cls: type) -> None:
    @given(strategy(cls))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(instance: Any) -> None:
        assert_fits(cls.__name__, to_data(instance))

    check()


@pytest.mark.parametrize("cls", TRIGGERS)
def test_each_trigger_fits_its_component_with_its_type_tag(cls: type) -> None:
    @given(strategy(cls))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(trigger: Any) -> None:
        data = converter.unstructure(trigger, unstructure_as=Trigger)
        assert "type" in data
        assert_fits(cls.__name__, data)

    check()


@given(strategy(Execution))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_answers_of_the_routes_fit_their_components(execution: Execution) -> None:
    assert_fits("Execution", execution_data(execution))
    assert_fits("ExecutionSummary", execution_summary(execution))


@given(strategy(Bot), st.none() | DATETIMES)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_bot_as_the_api_shows_it_fits_its_component(bot: Bot, next_fire: datetime) -> None:
    assert_fits("Bot", bot_data(bot, next_fire))


@given(strategy(Event))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_an_event_as_the_streams_send_it_fits_its_component(event: Event) -> None:
    assert_fits("Event", event_data(event))


SKIPS = st.lists(st.fixed_dictionaries({"bot": NAMES, "reason": st.text(max_size=20)}), max_size=3)
MATCHES = st.lists(
    st.fixed_dictionaries({"bot": NAMES, "prompt": st.text(max_size=20)}), max_size=3
)
IDS = st.lists(st.text(max_size=8), max_size=3).map(tuple)


@given(
    st.builds(
        DeliveryResult,
        source=NAMES,
        delivery_id=st.none() | st.text(max_size=8),
        execution_ids=IDS,
        duplicate=st.booleans(),
        reason=st.none() | st.text(max_size=20),
        skipped=SKIPS.map(tuple),
    ),
    st.builds(DryRun, matches=MATCHES, skipped=SKIPS),
    NAMES,
)
@settings(max_examples=40, deadline=None)
def test_the_answers_of_deliveries_and_dry_runs_fit_their_components(
    delivery: DeliveryResult, dry_run: DryRun, event: str
) -> None:
    assert_fits("DeliveryAnswer", delivery_data(delivery))
    assert_fits("DryRun", dry_run_data(event, dry_run))
    assert not validator("DryRun").is_valid({**wire(dry_run_data(event, dry_run)), "more": 1})


def test_the_trigger_tag_is_in_the_schema_and_the_objects_are_closed() -> None:
    bot = Bot(name="b", triggers=(GitHubTrigger(event="push"), ManualTrigger(params=("who",))))
    data = wire(bot_data(bot, None))
    assert_fits("Bot", data)
    assert SCHEMAS["GitHubTrigger"]["properties"]["type"] == {"const": "github"}
    extra = {**data, "surprise": 1}
    assert not validator("Bot").is_valid(extra)
    missing = {k: v for k, v in data.items() if k != "model"}
    assert not validator("Bot").is_valid(missing)
    untagged = {**data, "triggers": [{**data["triggers"][0], "type": "manual"}]}
    assert not validator("Bot").is_valid(untagged)


def test_every_model_component_is_a_closed_object_requiring_every_field() -> None:
    models = WireSchemas()
    for cls in (Execution, Event, Bot):
        models.of(cls)
    assert {"Execution", "Event", "Bot", "AttemptRecord", "Usage", "Param"} <= set(models.schemas)
    for name, schema in models.schemas.items():
        assert schema["additionalProperties"] is False, name
        assert set(schema["required"]) == set(schema["properties"]), name
        assert SCHEMAS[name]["additionalProperties"] is False, name


def test_the_paths_are_the_operations_declared_beside_the_routes() -> None:
    declared = operations()
    paths = document("agented", "")["paths"]
    assert {(o.method.lower(), o.path) for o in declared} == {
        (method, path) for path, methods in paths.items() for method in methods
    }
    assert paths["/bots/{name}/runs"]["post"]["operationId"] == "runBot"
    served = [(o.method, o.path) for o in declared] + [("HEAD", "/bots")]
    assert mismatch(served, declared) == ([], [])
    extra = Operation("GET", "/nowhere", "nowhere", "Nothing", {})
    assert mismatch([*served, ("POST", "/new")], [*declared, extra]) == (
        [("POST", "/new")],
        [("GET", "/nowhere")],
    )


@pytest.mark.anyio
async def test_an_app_with_an_undocumented_route_is_not_built(
    open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = operations()
    without_metrics = tuple(o for o in declared if o.path != "/metrics")
    async with open_agented([shell_bot("hello", "say", "hi")]) as ag:
        create_app(ag, Settings(api_keys=("k",)))  # every route has its operation
        monkeypatch.setattr(openapi, "operations", lambda: without_metrics)
        with pytest.raises(RuntimeError, match=r"routes without an operation.*/metrics"):
            create_app(ag, Settings(api_keys=("k",)))
        extra = Operation("GET", "/nowhere", "nowhere", "Nothing", {})
        monkeypatch.setattr(openapi, "operations", lambda: (*declared, extra))
        with pytest.raises(RuntimeError, match=r"operations without a route.*/nowhere"):
            create_app(ag, Settings(api_keys=("k",)))
