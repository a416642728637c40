"""How a trigger starts a run: the one callable deliveries and schedules are given."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from ..models import Execution, TriggerKind


class StartRun(Protocol):
    """How a trigger starts a run: :meth:`Agented.run <agented_core.Agented.run>`'s shape."""

    def __call__(
        self,
        name: str,
        *,
        trigger: TriggerKind,
        context: Mapping[str, Any] | None = None,
        delivery_id: str | None = None,
    ) -> Awaitable[Execution]: ...
