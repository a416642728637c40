"""An attempt's running token totals and cost: what its ``usage`` events carry."""

from __future__ import annotations

from typing import Any

from ..models import EventDraft, EventKind

_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class UsageTotals:
    """An attempt's running token totals and cost, for ``usage`` events.

    CLIs report usage in different ways; each has a method here:

    - per API call or message, figures that may be revised while it streams:
      :meth:`record` with a key (the message id) replaces that message's figures;
    - per step, figures to add up: :meth:`add`;
    - for the whole run at its end: :meth:`replace` sets the totals outright.

    :meth:`draft` returns a ``usage`` event whenever the totals changed since the last one.
    The executor turns these attempt totals into the execution's running totals.
    """

    def __init__(self) -> None:
        self._parts: dict[str, tuple[int, int, int, int]] = {}
        self._added = (0, 0, 0, 0)
        self.cost_usd: float | None = None
        self._last: dict[str, Any] | None = None

    def record(
        self,
        key: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """The figures of one part (an API call, a message) so far; replaces earlier ones."""
        self._parts[key] = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)

    def add(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Add a step's figures (and cost) to the totals."""
        a = self._added
        self._added = (
            a[0] + input_tokens,
            a[1] + output_tokens,
            a[2] + cache_read_tokens,
            a[3] + cache_write_tokens,
        )
        if cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

    def replace(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Set the totals outright (a CLI's own final figures for the whole run)."""
        self._parts.clear()
        self._added = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
        if cost_usd is not None:
            self.cost_usd = cost_usd

    @property
    def totals(self) -> dict[str, Any]:
        """``{input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd}``."""
        sums = list(self._added)
        for part in self._parts.values():
            for i, value in enumerate(part):
                sums[i] += value
        out: dict[str, Any] = dict(zip(_FIELDS, sums, strict=True))
        out["cost_usd"] = self.cost_usd
        return out

    def draft(self) -> EventDraft | None:
        """A ``usage`` event with the totals, or ``None`` when they did not change."""
        totals = self.totals
        if totals == self._last:
            return None
        self._last = totals
        return EventDraft(EventKind.USAGE, data=totals)
