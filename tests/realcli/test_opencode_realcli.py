"""Contract tests: the genuine opencode, run by agented against the fake chat-completions API.

Each account has its own ``opencode.json`` (``OPENCODE_CONFIG``: an OpenAI-compatible provider
``fake`` pointing here, one model with a price and one without) and its own data folder
(``XDG_DATA_HOME``: sessions, logs); its key comes from the host through ``env_from``.
opencode retries a retryable error up to 5 times by itself (no setting changes that), so the
tests that make it fail do so with short ``retry-after`` waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from contract import opencode_account
from opencode_family import OpenCodeChecks
from realcli_support import kinds

from agented_core import Account, Bot, Status
from fakeapi import FakeModelAPI, Reply, Text, text

pytestmark = [pytest.mark.realcli, pytest.mark.anyio, pytest.mark.timeout(120)]


class TestOpencode(OpenCodeChecks):
    provider = "opencode"
    api_key = "sk-oc-realcli-SECRET-48d1aa"
    host_only = "host-only-SECRET-value-66e0"

    async def test_a_cut_stream_opencode_retries_and_recovers_from(
        self,
        tmp_path: Path,
        api: FakeModelAPI,
        make_bot: Callable[..., Bot],
        accounts: dict[str, Account],
    ) -> None:
        words = " ".join(f"word{i}" for i in range(80))
        api.push(Reply((Text(words),), text_chunks=8, cut_after=4), text("whole answer"))
        done, events = await self.run_bots(tmp_path, [make_bot()], accounts)
        assert done.status is Status.SUCCEEDED, done.error
        assert done.result == "whole answer"
        assert [e.text for e in kinds(events, "text")] == ["whole answer"]  # nothing of the cut
        assert len(api.model_requests()) == 2  # a retry it logs nothing about when it recovers

    async def test_a_dead_server_is_ended_by_the_idle_watchdog(
        self, tmp_path: Path, make_bot: Callable[..., Bot]
    ) -> None:
        dead = opencode_account("opencode", "work", tmp_path / "oc-dead", "http://127.0.0.1:9")
        started = time.monotonic()
        # long enough for opencode's first line on a loaded machine, shorter than its backoff
        bot = make_bot(idle_timeout=12.0)
        done, events = await self.run_bots(tmp_path, [bot], {"work": dead})
        assert time.monotonic() - started < 90
        assert done.status is Status.FAILED
        assert done.error_kind is not None and done.error_kind.value == "idle"
        retries = kinds(events, "retry")
        assert retries and "Unable to connect" in retries[0].data["reason"]
