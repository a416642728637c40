"""The provider SDK's shared skeleton: the stderr tail, failures and their kind, the no-result
error, the event builders, deep_merge and the resumable-session check."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agented_core import Account, Bot, CommandRequest, ErrorKind, EventDraft
from agented_core.providers import (
    TOOL_RESULT_TEXT,
    WARNING,
    AgentParser,
    CLIProvider,
    JsonLinesParser,
    StderrTail,
    deep_merge,
    result,
    retry,
    session,
    tool_call,
    tool_result,
    warning,
)

# the stderr tail
lines_st = st.lists(st.text(max_size=700), max_size=40)


@given(lines_st, st.integers(1, 10), st.integers(1, 600))
def test_the_tail_keeps_the_last_non_blank_lines_cut_to_its_width(
    lines: list[str], keep: int, width: int
) -> None:
    tail = StderrTail(lines=keep, width=width)
    for line in lines:
        tail.add(line)
    expected = [line[:width] for line in lines if line.strip()][-keep:]
    assert list(tail) == expected
    assert len(tail) <= keep and all(len(line) <= width for line in tail)
    assert tail.last == (expected[-1] if expected else None)
    assert tail.text == "\n".join(expected)


def test_the_tail_skips_none_and_refuses_an_empty_size() -> None:
    tail = StderrTail()
    tail.add(None)
    tail.add("   ")
    assert tail.last is None and tail.text == "" and len(tail) == 0
    with pytest.raises(ValueError):
        StderrTail(lines=0)


class Toy(JsonLinesParser):
    """A CLI whose ``done`` line is its result and ``fail`` line its failure."""

    requires_result: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__("toy")

    def on_object(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        if obj.get("type") == "done":
            self.result_seen = True
            return [result(True, "ok", turns=1, duration_ms=self.elapsed_ms())]
        if obj.get("type") == "fail":
            return [self.failure(str(obj.get("message")), codes=obj.get("codes", ()))]
        return []


class Stacky(Toy):
    def tail_line(self, line: str) -> str | None:
        stripped = line.strip()
        return None if stripped.startswith("at ") else stripped


def test_stderr_lines_reach_the_tail_through_tail_line() -> None:
    parser = Stacky()
    for line in ("  Error: cannot read config  ", "    at load (config.js:1:2)", ""):
        parser.stderr(line)
    assert list(parser.stderr_tail) == ["Error: cannot read config"]


def test_a_tail_line_that_raises_keeps_the_stderr_event() -> None:
    class Broken(Toy):
        def tail_line(self, line: str) -> str | None:
            raise RuntimeError("bug")

    drafts = Broken().stderr("rate limit reached")
    assert [d.kind for d in drafts] == ["stderr", "rate_limit"]


# failures, their kind, the no-result error
def test_the_no_result_error_names_the_cli_the_exit_code_and_the_last_stderr_line() -> None:
    parser = Toy()
    parser.stderr("starting")
    parser.stderr("Error: Invalid API key")
    (draft,) = parser.finish(1)
    assert draft.kind == "error"
    assert draft.text == "toy exited with code 1 without a result: Error: Invalid API key"
    assert draft.data["kind"] == "auth" and draft.data["exit_code"] == 1
    assert parser.errors == 1


def test_the_no_result_error_reads_the_exit_code_as_evidence() -> None:
    (draft,) = Toy().finish(127)  # the shell's "command not found"
    assert draft.data["kind"] == "launch"
    assert draft.text == "toy exited with code 127 without a result"


@pytest.mark.parametrize("exit_code", [None, -9, -15])
def test_no_extra_error_when_agented_ended_the_process(exit_code: int | None) -> None:
    assert Toy().finish(exit_code) == ()


def test_no_extra_error_after_a_result_or_a_failure() -> None:
    done = Toy()
    done.stdout('{"type": "done"}')
    assert done.finish(1) == ()
    failed = Toy()
    (error,) = failed.stdout('{"type": "fail", "message": "boom"}')
    assert error.data == {"kind": "provider", "message": "boom"}
    assert failed.errors == 1 and failed.finish(1) == ()


def test_without_requires_result_finish_adds_nothing() -> None:
    class Loose(Toy):
        requires_result: ClassVar[bool] = False

    assert Loose().finish(1) == ()
    assert Loose().no_result(1)  # the check itself is there for a subclass to call


@pytest.mark.parametrize(
    ("status", "codes", "stderr", "kind"),
    [
        (401, (), "", ErrorKind.AUTH),
        (429, (), "", ErrorKind.RATE),
        (529, (), "", ErrorKind.OVERLOADED),
        (None, ("authentication_failed",), "", ErrorKind.AUTH),
        (None, (), "Error: 401 Unauthorized", ErrorKind.AUTH),
        (None, (), "", ErrorKind.PROVIDER),
    ],
)
def test_error_kind_weighs_the_status_the_codes_and_the_tail(
    status: int | None, codes: tuple[str, ...], stderr: str, kind: ErrorKind
) -> None:
    parser = Toy()
    parser.status = status
    if stderr:
        parser.stderr(stderr)
    assert parser.error_kind("it failed", codes=codes) is kind
    draft = parser.failure("it failed", codes=codes, status=status)
    assert draft.data == {"kind": kind.value, "message": "it failed", "status": status}


def test_a_failure_of_a_given_kind_is_counted_and_kept_as_given() -> None:
    parser = Toy()
    draft = parser.failure("no network", kind=ErrorKind.NETWORK, code="offline")
    assert draft.data == {"kind": "network", "message": "no network", "code": "offline"}
    assert parser.errors == 1


@given(st.lists(st.tuples(st.booleans(), st.text(max_size=80)), max_size=20), st.integers(-20, 300))
def test_the_skeleton_never_raises_and_adds_at_most_one_error(
    lines: list[tuple[bool, str]], exit_code: int
) -> None:
    parser = Toy()
    for is_stderr, line in lines:
        (parser.stderr if is_stderr else parser.stdout)(line)
    before = parser.errors
    drafts = parser.finish(exit_code)
    assert len(drafts) <= 1
    assert len(drafts) == (1 if exit_code >= 0 and not before and not parser.result_seen else 0)


# the event builders
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(st.text(max_size=30), json_values)
def test_a_tool_call_is_its_name_and_input_in_bounded_text(name: str, tool_input: Any) -> None:
    draft = tool_call("t1", name, tool_input, server="s")
    assert draft.kind == "tool_call"
    assert draft.data == {"id": "t1", "name": name, "input": tool_input, "server": "s"}
    assert draft.text is not None and draft.text.startswith(f"{name} ")
    assert len(draft.text) <= len(name) + 1 + 200


@given(st.text(max_size=3000), st.booleans())
def test_a_tool_results_text_is_its_output_cut(output: str, ok: bool) -> None:
    draft = tool_result("t1", ok, output, exit_code=2)
    assert draft.kind == "tool_result" and draft.text == output[:TOOL_RESULT_TEXT]
    assert draft.data == {"id": "t1", "ok": ok, "output": output, "exit_code": 2}


def test_the_other_builders_give_the_documented_keys() -> None:
    assert session("s1", "m", ["Bash"], cwd="/w") == EventDraft(
        "session",
        text="session s1 (m)",
        data={"session_id": "s1", "model": "m", "tools": ["Bash"], "cwd": "/w"},
    )
    assert session(None).text == "session None" and session(None).data["tools"] == []
    done = result(False, "nope", turns=2, duration_ms=None, status=429)
    assert done.kind == "result" and done.text == "nope"
    assert done.data == {
        "ok": False,
        "text": "nope",
        "turns": 2,
        "duration_ms": None,
        "status": 429,
    }
    again = retry("retrying", "overloaded", 1, 500, max_retries=3)
    assert again.kind == "retry" and again.text == "retrying"
    assert again.data == {"reason": "overloaded", "attempt": 1, "delay_ms": 500, "max_retries": 3}
    notice = warning("fell back", id="i1")
    assert notice.kind == WARNING == "warning"
    assert notice.data == {"message": "fell back", "id": "i1"} and notice.text == "fell back"
    json.dumps([d.data for d in (done, again, notice)])  # all JSON


# deep_merge
tables = st.recursive(
    st.dictionaries(st.sampled_from("abcd"), st.integers() | st.text(max_size=3), max_size=4),
    lambda inner: st.dictionaries(st.sampled_from("abcd"), inner | st.integers(), max_size=4),
    max_leaves=12,
)


def leaves(table: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every value that is not a table, by its path (an empty table has none)."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(leaves(value, (*path, key)))
        else:
            out[(*path, key)] = value
    return out


def nodes(table: dict[str, Any], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The paths of every key, tables and values alike."""
    out: set[tuple[str, ...]] = set()
    for key, value in table.items():
        out.add((*path, key))
        if isinstance(value, dict):
            out |= nodes(value, (*path, key))
    return out


def at(table: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        table = table[key]
    return table


@given(tables, tables)
def test_deep_merge_keeps_every_leaf_of_over_and_what_it_does_not_cover(
    base: dict[str, Any], over: dict[str, Any]
) -> None:
    snapshot = json.dumps([base, over], sort_keys=True)
    merged = deep_merge(base, over)
    assert json.dumps([base, over], sort_keys=True) == snapshot  # neither input changed
    for path, value in leaves(over).items():
        assert at(merged, path) == value
    for path, value in leaves(base).items():
        # kept unless over has something at that path, or a value where base has a table
        replaced = path in nodes(over) or any(
            not isinstance(at(over, path[:n]), dict)
            for n in range(1, len(path))
            if path[:n] in nodes(over)
        )
        if not replaced:
            assert at(merged, path) == value
    assert set(merged) == set(base) | set(over)


@given(tables)
def test_deep_merge_with_nothing_or_itself_is_the_table(table: dict[str, Any]) -> None:
    assert deep_merge(table, {}) == table
    assert deep_merge({}, table) == table
    assert deep_merge(table, table) == table


def test_deep_merge_replaces_a_table_by_a_value_and_a_value_by_a_table() -> None:
    base = {"general": {"maxAttempts": 2, "x": 1}, "tools": ["a"], "n": 1}
    over = {"general": {"maxAttempts": 5}, "tools": {"allowed": ["b"]}, "n": {"m": 2}}
    assert deep_merge(base, over) == {
        "general": {"maxAttempts": 5, "x": 1},
        "tools": {"allowed": ["b"]},
        "n": {"m": 2},
    }
    assert deep_merge({"a": {"b": 1}}, {"a": 3}) == {"a": 3}


# the resumable session
class Resumer(CLIProvider):
    name: ClassVar[str] = "resumer"
    executable: ClassVar[str | None] = "resumer"

    def arguments(self, request: CommandRequest) -> list[str]:
        return []


def request(
    resume: Any = True,
    session_id: str | None = "s1",
    attempt: int = 2,
    account: str | None = "work",
    session_account: str | None = "work",
) -> CommandRequest:
    bot = Bot(name="b", provider="resumer", prompt="p", options={"resume": resume})
    return CommandRequest(
        bot=bot,
        prompt="p",
        context={},
        env={},
        cwd=None,
        account=Account(name=account, provider="resumer") if account else None,
        attempt=attempt,
        session_id=session_id,
        session_account=session_account,
    )


@pytest.mark.parametrize(
    ("changes", "resumed"),
    [
        ({}, "s1"),
        ({"account": None, "session_account": None}, "s1"),
        ({"resume": False}, None),
        ({"resume": "yes"}, None),
        ({"session_id": None}, None),
        ({"session_id": ""}, None),
        ({"attempt": 1}, None),
        ({"session_account": "personal"}, None),
        ({"account": None}, None),
    ],
)
def test_a_session_is_resumed_only_when_asked_later_and_on_its_account(
    changes: dict[str, Any], resumed: str | None
) -> None:
    assert Resumer().resumable_session(request(**changes)) == resumed


def test_the_account_name_of_a_request() -> None:
    assert request().account_name == "work"
    assert request(account=None).account_name is None


def test_a_plain_text_cli_gets_the_same_skeleton_from_agent_parser() -> None:
    class Plain(AgentParser):
        requires_result: ClassVar[bool] = True

        def stdout(self, line: str) -> list[EventDraft]:
            if line == "DONE":
                self.result_seen = True
                return [result(True, None, turns=1, duration_ms=self.elapsed_ms())]
            return [EventDraft("text", text=line)]

    crashed = Plain("plain")
    assert crashed.stderr("fatal: not logged in") == (
        EventDraft("stderr", text="fatal: not logged in"),
    )
    (draft,) = crashed.finish(2)
    assert draft.text == "plain exited with code 2 without a result: fatal: not logged in"
    assert draft.data["kind"] == "auth"
    finished = Plain("plain")
    finished.stdout("DONE")
    assert finished.finish(0) == ()
