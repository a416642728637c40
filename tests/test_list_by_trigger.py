"""Listing executions by trigger: every page of ``Agented.list(trigger=)`` and of
``GET /executions?trigger=`` holds only that trigger's, and the pages together hold all of
them, newest first, also when a page's scan stops short of ``limit``."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agented_core.agented as agented_module
from agented_core import Agented, Execution, Status, TriggerKind

pytestmark = pytest.mark.anyio


async def _all_pages(ag: Agented, trigger: TriggerKind, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page, cursor = await ag.list(trigger=trigger, limit=limit, cursor=cursor)
        assert len(page) <= limit
        assert all(e.trigger is trigger for e in page)
        seen.extend(e.id for e in page)
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@settings(max_examples=40, deadline=None)
@given(
    triggers=st.lists(st.sampled_from(list(TriggerKind)), max_size=40),
    wanted=st.sampled_from(list(TriggerKind)),
    limit=st.integers(1, 6),
    scan=st.integers(1, 12),
)
def test_the_pages_of_a_trigger_hold_exactly_its_executions_newest_first(
    triggers: list[TriggerKind], wanted: TriggerKind, limit: int, scan: int
) -> None:
    async def check() -> None:
        with tempfile.TemporaryDirectory() as folder:
            async with Agented.open(
                f"sqlite:///{folder}/a.db", entry_points=False, recover=False, wake=False
            ) as ag:
                for n, trigger in enumerate(triggers):
                    await ag.store.save_execution(
                        Execution(
                            id=f"01J{n:023d}",
                            bot="b",
                            trigger=trigger,
                            status=Status.SUCCEEDED,
                            created_at=datetime.now(UTC),
                        )
                    )
                seen = await _all_pages(ag, wanted, limit)
        expected = [f"01J{n:023d}" for n, t in enumerate(triggers) if t is wanted]
        assert seen == list(reversed(expected))

    before = agented_module.TRIGGER_SCAN
    agented_module.TRIGGER_SCAN = scan  # pages of the store read per call, made small
    try:
        anyio.run(check)
    finally:
        agented_module.TRIGGER_SCAN = before
