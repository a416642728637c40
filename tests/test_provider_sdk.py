"""The provider SDK: JsonLinesParser, UsageTotals, the event helpers, CLIProvider and
classify_outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agented_core import Bot, CommandRequest, ErrorKind, EventDraft, Outcome, Provider
from agented_core.errors import PluginError
from agented_core.providers import (
    CLIProvider,
    JsonLinesParser,
    UsageTotals,
    classify_outcome,
    error,
    rate_limit,
    raw,
)
from agented_core.ratelimit import LimitKind, Pattern, RateLimit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Echo(JsonLinesParser):
    """Objects with "say" become text; "boom" raises."""

    def on_object(self, obj: dict[str, Any], line: str) -> list[EventDraft]:
        if "boom" in obj:
            raise KeyError("boom")
        if "say" in obj:
            return [EventDraft("text", text=str(obj["say"]))]
        return [raw(line)]


def test_objects_go_to_on_object_and_everything_else_is_raw() -> None:
    parser = Echo("toy")
    assert parser.stdout('{"say": "hi"}') == [EventDraft("text", text="hi")]
    assert parser.stdout("plain words") == [EventDraft("raw", text="plain words")]
    assert parser.stdout("[1, 2]") == [EventDraft("raw", text="[1, 2]")]
    assert parser.stdout('{"broken": ') == [EventDraft("raw", text='{"broken": ')]
    assert parser.stdout("   ") == ()


def test_a_line_the_subclass_raises_on_is_kept_raw_and_counted() -> None:
    parser = Echo("toy")
    assert parser.stdout('{"boom": 1}') == (EventDraft("raw", text='{"boom": 1}'),)
    assert parser.failed_lines == 1


def test_stderr_lines_are_stderr_events_and_are_searched_for_limits() -> None:
    parser = Echo("toy", account="acct", now=lambda: NOW)
    drafts = parser.stderr("Error: rate limit reached, try again in 30s")
    assert [d.kind for d in drafts] == ["stderr", "rate_limit"]
    limit = drafts[1].data
    assert limit["kind"] == "rate" and limit["retry_after"] == 30.0
    assert limit["reset_at"] == "2026-11-25T12:00:30+00:00"
    assert limit["account"] == "acct" and limit["provider"] == "toy"
    assert limit["matched"]


def test_a_limit_is_reported_once_per_kind_and_again_only_with_a_reset() -> None:
    parser = Echo("toy", now=lambda: NOW)
    first = parser.stdout("rate limit reached")
    assert [d.data["kind"] for d in first if d.kind == "rate_limit"] == ["rate"]
    assert not [d for d in parser.stdout("rate limit reached") if d.kind == "rate_limit"]
    again = [
        d for d in parser.stdout("rate limit reached, try again in 5s") if d.kind == "rate_limit"
    ]
    assert again and again[0].data["retry_after"] == 5.0
    assert not [
        d for d in parser.stdout("rate limit reached, try again in 9s") if d.kind == "rate_limit"
    ]
    quota = [d for d in parser.stdout("You've hit your usage limit") if d.kind == "rate_limit"]
    assert quota and quota[0].data["kind"] == "quota"


def test_plugin_patterns_and_detection_off() -> None:
    patterns = {
        "toy": [Pattern(r"\bslow down, throttled\b", LimitKind.RATE, keywords=("throttled",))]
    }
    parser = Echo("toy", patterns=patterns)
    assert [d.kind for d in parser.stdout("slow down, throttled")] == ["rate_limit", "raw"]
    quiet = Echo("toy", detect_limits=False)
    assert [d.kind for d in quiet.stdout("rate limit reached")] == ["raw"]


def test_limit_details_add_data() -> None:
    class Windowed(Echo):
        def limit_details(self, obj: dict[str, Any]) -> dict[str, Any]:
            return {"window": obj.get("window")}

    drafts = Windowed("toy").stdout(
        json.dumps({"type": "error", "message": "usage limit reached", "window": "5h"})
    )
    assert drafts[0].kind == "rate_limit" and drafts[0].data["window"] == "5h"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_the_base_parser_never_raises(line: str) -> None:
    parser = JsonLinesParser("toy")
    for draft in [*parser.stdout(line), *parser.stderr(line)]:
        assert isinstance(draft, EventDraft)
    assert parser.failed_lines == 0


# usage
def test_usage_totals_record_add_replace() -> None:
    usage = UsageTotals()
    usage.record("m1", input_tokens=10, output_tokens=1)
    usage.record("m1", input_tokens=10, output_tokens=4)  # the same message, revised
    usage.record("m2", input_tokens=5, cache_read_tokens=2)
    usage.add(output_tokens=3, cost_usd=0.5)
    usage.add(cost_usd=0.25)
    assert usage.totals == {
        "input_tokens": 15, "output_tokens": 7, "cache_read_tokens": 2,
        "cache_write_tokens": 0, "cost_usd": 0.75,
    }  # fmt: skip
    first = usage.draft()
    assert first is not None and first.kind == "usage" and first.data == usage.totals
    assert usage.draft() is None  # unchanged
    usage.replace(input_tokens=100, output_tokens=50, cost_usd=1.0)
    assert usage.totals["input_tokens"] == 100 and usage.totals["cost_usd"] == 1.0
    assert usage.draft() is not None


def test_usage_cost_stays_none_until_reported() -> None:
    usage = UsageTotals()
    usage.add(input_tokens=1)
    assert usage.totals["cost_usd"] is None


# helpers
def test_error_and_rate_limit_events() -> None:
    assert error(ErrorKind.AUTH, "bad key", code="x") == EventDraft(
        "error", text="bad key", data={"kind": "auth", "message": "bad key", "code": "x"}
    )
    limit = RateLimit("claude", LimitKind.QUOTA, NOW, "usage limit reached")
    draft = rate_limit(limit, account="a", window="five_hour")
    assert draft.text == "quota limit until 2026-11-25T12:00:00+00:00"
    assert draft.data == {
        "kind": "quota", "provider": "claude", "account": "a",
        "reset_at": "2026-11-25T12:00:00+00:00", "retry_after": None,
        "matched": "usage limit reached", "window": "five_hour",
    }  # fmt: skip


# classify_outcome
@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (Outcome(exit_code=0), None),
        (Outcome(exit_code=0, result_ok=True), None),
        (Outcome(exit_code=1), ErrorKind.PROVIDER),
        (Outcome(exit_code=1, error_kinds=("auth",)), ErrorKind.AUTH),
        (Outcome(exit_code=1, error_kinds=("authentication_failed",)), ErrorKind.AUTH),
        (Outcome(exit_code=1, extra={"status_codes": [401]}), ErrorKind.AUTH),
        (Outcome(exit_code=1, extra={"error_codes": ["insufficient_quota"]}), ErrorKind.QUOTA),
        (Outcome(exit_code=1, rate_limits=({"kind": "rate", "retry_after": 3},)), ErrorKind.RATE),
        (Outcome(exit_code=1, rate_limits=({"kind": "notice"},)), ErrorKind.PROVIDER),
        (Outcome(exit_code=1, stderr="connect ECONNREFUSED"), ErrorKind.NETWORK),
        (Outcome(exit_code=127), ErrorKind.LAUNCH),
        # auth outranks a rate limit seen on the way
        (
            Outcome(exit_code=1, error_kinds=("auth",), rate_limits=({"kind": "rate"},)),
            ErrorKind.AUTH,
        ),
    ],
)
def test_classify_outcome(outcome: Outcome, kind: ErrorKind | None) -> None:
    assert classify_outcome(outcome, "toy") is kind


def test_classify_outcome_tolerates_odd_limit_data() -> None:
    odd = (
        {"kind": "rate", "reset_at": "not a time", "retry_after": "soon"},
        {"kind": "bogus"},
        "not a mapping",
        {"kind": "quota", "reset_at": 5},
    )
    assert classify_outcome(Outcome(exit_code=1, rate_limits=odd)) is ErrorKind.QUOTA


def test_the_default_classify_names_the_kind_from_the_evidence() -> None:
    class Bare(Provider):
        name: ClassVar[str] = "bare"

    assert Bare().classify(Outcome(exit_code=0)) is None
    assert Bare().classify(Outcome(exit_code=2, stderr="401 Unauthorized")) is ErrorKind.AUTH
    assert Bare().classify(Outcome(exit_code=2)) is ErrorKind.PROVIDER


# CLIProvider
class Toy(CLIProvider):
    name: ClassVar[str] = "toy"
    executable: ClassVar[str | None] = "toy-agent"

    def arguments(self, request: CommandRequest) -> list[str]:
        return ["--json"]

    def environment(self, request: CommandRequest) -> dict[str, str]:
        return {"TOY_QUIET": "1"}


class ToyArg(Toy):
    prompt_on_stdin: ClassVar[bool] = False


class ToyStrict(Toy):
    requires_result: ClassVar[bool] = True


def req(bot: Bot, prompt: str = "hello world") -> CommandRequest:
    return CommandRequest(bot=bot, prompt=prompt, context={}, env={"PATH": "/bin"}, cwd="/w")


def test_cli_provider_builds_argv_env_and_stdin() -> None:
    bot = Bot(name="b", provider="toy", prompt="p", extra_args=["--x", "1"])
    command = Toy().build_command(req(bot))
    assert command.argv == ("toy-agent", "--json", "--x", "1")
    assert command.stdin == b"hello world" and command.cwd == "/w"
    assert command.env["PATH"] == "/bin" and command.env["TOY_QUIET"] == "1"


def test_a_prompt_as_an_argument_is_recorded_as_a_placeholder() -> None:
    bot = Bot(name="b", provider="toy", prompt="p")
    command = ToyArg().build_command(req(bot, "secret plans"))
    assert command.argv[-1] == "secret plans" and command.stdin is None
    assert command.recorded("secret plans")[-1] == "<prompt>"


def test_cli_provider_checks() -> None:
    problems = Toy().check_bot(
        Bot(name="b", provider="toy", command=["x"], options={"executable": 3})
    )
    assert any(p.startswith("prompt:") for p in problems)
    assert any(p.startswith("command:") for p in problems)
    assert any(p.startswith("options.executable:") for p in problems)


def test_requires_result() -> None:
    assert Toy().classify(Outcome(exit_code=0)) is None
    assert ToyStrict().classify(Outcome(exit_code=0)) is ErrorKind.PROVIDER
    assert ToyStrict().classify(Outcome(exit_code=0, result_ok=True)) is None
    assert ToyStrict().classify(Outcome(exit_code=0, stderr="Invalid API key")) is ErrorKind.AUTH


def test_a_cli_provider_without_an_executable_says_so() -> None:
    class Nameless(Toy):
        executable: ClassVar[str | None] = None

    with pytest.raises(PluginError, match="names no executable"):
        Nameless().build_command(req(Bot(name="b", provider="toy", prompt="p")))


def test_message_error_kind_weighs_the_network_and_a_limit_the_message_names() -> None:
    class Own(JsonLinesParser):
        def error_kind(self, message: str, **kwargs: Any) -> ErrorKind:
            return self.message_error_kind(message, network="refused" in message, **kwargs)

    assert Own("toy").error_kind("connect ECONNREFUSED refused") is ErrorKind.NETWORK
    assert Own("toy").error_kind("429 Too Many Requests: rate limit exceeded") is ErrorKind.RATE
    assert Own("toy").error_kind("something broke") is ErrorKind.PROVIDER
    plain = JsonLinesParser("toy")
    assert plain.message_error_kind("broke", network=True, stderr="") is ErrorKind.NETWORK
    assert plain.message_error_kind("broke", stderr="401 Unauthorized") is ErrorKind.AUTH
