"""docs/contexts.md lists every context key of each trigger kind, with the code's types."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from agented_core.models import (
    Bot,
    Execution,
    GitHubTrigger,
    ManualTrigger,
    ScheduleTrigger,
    TriggerKind,
    WebhookTrigger,
)
from agented_core.params import Param, ParamType
from agented_core.run._preparation import base_context
from agented_core.triggers._contexts import (
    BASE,
    GITHUB_EVENT_SECTIONS,
    GITHUB_SECTIONS,
    WORKSPACE,
    Leaf,
    ListOf,
    Node,
    Open,
    Record,
    trigger_shape,
)

PAGE = Path(__file__).parent.parent / "docs" / "contexts.md"
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \| (.+) \|$")


def documented() -> dict[str, dict[str, str]]:
    """Each section of the page (by heading) and its rows: key -> type."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in PAGE.read_text().splitlines():
        heading = re.match(r"^#{2,3} (.+)$", line)
        if heading:
            current = heading.group(1).strip()
            sections[current] = {}
        elif (row := ROW.match(line)) and current:
            sections[current][row.group(1)] = row.group(2)
    return sections


def typed(node: Node, prefix: str = "") -> dict[str, str]:
    """Every key of a shape as the page writes it (``a.b``, lists as ``a[].b``), with its type."""
    if isinstance(node, Record):
        out: dict[str, str] = {}
        for key, child in node.fields.items():
            out.update(typed(child, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(node, Open):
        return {prefix: "any JSON"}
    if isinstance(node, ListOf):
        if isinstance(node.item, Leaf):
            return {prefix: f"list of {node.item.type}"}
        return {prefix: "list of object", **typed(node.item, f"{prefix}[]")}
    return {prefix: node.type}


def section_keys(name: str) -> dict[str, str]:
    return typed(Record({name: GITHUB_SECTIONS[name]}))


def test_every_section_of_the_page_matches_the_code() -> None:
    page = documented()
    everything = {**typed(BASE), "params.NAME": "the parameter's type"}
    github = {
        k: v
        for k, v in typed(trigger_shape(GitHubTrigger("check_suite")).root).items()
        if not k.startswith(("repo.", "sender."))
    }
    expected = {
        "Every run": everything,
        "Manual runs": {"params.NAME": "the parameter's type"},
        "Schedules": typed(trigger_shape(ScheduleTrigger("0 3 * * *")).root),
        "GitHub": {**github, **section_keys("repo"), **section_keys("sender")},
        **{name: section_keys(name) for name in GITHUB_SECTIONS if name not in ("repo", "sender")},
        "Generic webhooks": typed(trigger_shape(WebhookTrigger("alerts")).root),
        "Workspaces": typed(Record({"workspace": WORKSPACE})),
    }
    assert set(page) == set(expected)
    for name, keys in expected.items():
        assert page[name] == keys, name


def test_the_events_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \| ((?:`[a-z_]+`(?:, )?)+) \|$", PAGE.read_text(), re.M)
    table = {event: tuple(re.findall(r"`([a-z_]+)`", sections)) for event, sections in rows}
    assert table == dict(GITHUB_EVENT_SECTIONS)


def test_the_shapes_match_what_a_run_gets() -> None:
    """The always-present keys are those :func:`base_context` builds (params aside)."""
    bot = Bot("b", triggers=(ManualTrigger(params=["who"]),))
    execution = Execution(id="x", bot="b", trigger=TriggerKind.MANUAL, params={"who": "me"})
    context = base_context(bot, execution, datetime.now(UTC))

    def keys(value: object, prefix: str = "") -> set[str]:
        if isinstance(value, dict) and value:
            return {
                k for key, v in value.items() for k in keys(v, f"{prefix}.{key}" if prefix else key)
            }
        return {prefix}

    assert keys({k: v for k, v in context.items() if k != "params"}) == set(typed(BASE))
    assert context["params"] == {"who": "me"}


def test_the_workspace_keys_are_those_a_run_gets() -> None:
    from agented_core.models import Workspace
    from agented_core.run._preparation import workspace_context

    made = workspace_context(Workspace(path="/w", repo="o/r", sha="a" * 40, ref="refs/heads/x"))
    assert {f"workspace.{k}" for k in made} == set(typed(Record({"workspace": WORKSPACE})))


def test_params_take_their_declared_type() -> None:
    declared = [
        Param(f"p_{kind.value}", kind, choices=("a",) if kind is ParamType.CHOICE else ())
        for kind in ParamType
    ]
    shape = trigger_shape(ManualTrigger(params=declared)).root
    assert typed(shape) == {
        "params.p_string": "string",
        "params.p_integer": "integer",
        "params.p_number": "number",
        "params.p_boolean": "boolean",
        "params.p_choice": "string",
    }
