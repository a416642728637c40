"""The example plugin of docs/plugins.md (examples/toy_provider) works as the page says."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agented_core import Bot, ErrorKind, ManualTrigger, Status
from conftest import OpenAgented

pytestmark = pytest.mark.anyio

TOY = Path(__file__).parent.parent / "examples" / "toy_provider"
sys.path.insert(0, str(TOY / "src"))

import agented_toy  # noqa: E402


def toy_bot(prompt: str, **fields: object) -> Bot:
    options = {"executable": str(TOY / "toy_agent.py"), **fields.pop("options", {})}  # type: ignore[dict-item]
    return Bot(
        name="toy-bot",
        provider="toy",
        prompt=prompt,
        options=options,
        max_attempts=1,
        triggers=(ManualTrigger(),),
        **fields,  # type: ignore[arg-type]
    )


async def run(open_agented: OpenAgented, bot: Bot):
    async with open_agented([bot], plugins=[agented_toy]) as ag:
        execution = await ag.run(bot.name)
        done = await ag.wait(execution.id, timeout=20)
        events = [e async for e in ag.events(execution.id)]
    return done, events


async def test_a_run_of_the_toy_agent(open_agented: OpenAgented) -> None:
    done, events = await run(open_agented, toy_bot("one two three", options={"shout": True}))
    assert done.status is Status.SUCCEEDED
    assert done.result == "YOU SAID 3 WORD(S)"
    assert done.session_id == "toy-session-1"
    kinds = [e.kind for e in events if e.kind != "status"]
    assert kinds == ["session", "tool_call", "tool_result", "text", "usage", "result"]
    assert done.usage.input_tokens == 3 and done.usage.cost_usd == pytest.approx(8e-6)
    assert "--shout" in done.command and "one two three" not in " ".join(done.command)


async def test_the_toy_agents_429_is_a_rate_limit(open_agented: OpenAgented) -> None:
    done, events = await run(open_agented, toy_bot("are you busy?"))
    assert done.status is Status.FAILED
    assert done.error_kind is ErrorKind.RATE
    limit = next(e for e in events if e.kind == "rate_limit")
    assert limit.data["kind"] == "rate" and limit.data["retry_after"] == 30.0


async def test_a_crash_without_a_result_fails_with_its_stderr(open_agented: OpenAgented) -> None:
    done, _ = await run(open_agented, toy_bot("please crash"))
    assert done.status is Status.FAILED
    assert done.exit_code == 3
    # the SDK's no-result error (ToyParser.requires_result), with the stderr tail's last line
    assert (
        done.error
        == "toy exited with code 3 without a result: toy-agent: segmentation fault (pretend)"
    )


async def test_the_toy_provider_checks_its_options(open_agented: OpenAgented) -> None:
    from agented_core import ConfigError

    with pytest.raises(ConfigError, match=r"options\.shout"):
        async with open_agented([toy_bot("x", options={"shout": "yes"})], plugins=[agented_toy]):
            pass
