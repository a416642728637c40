"""Cost from token counts and the ``[prices]`` table, for CLIs that report no cost themselves.

A price is USD per million tokens (:class:`agented_core.config.Price`, or a mapping with the
same keys): ``input``, ``output``, and optionally ``cache_read`` and ``cache_write``. Cache
reads and writes without a price of their own count at the input price, an upper bound for
reads (the cheapest tokens there are). A model without a price has no cost (``None``), never a
guessed one, and a figure that is not a number makes the whole price unusable.

Token counts follow agented's ``usage`` events: ``input_tokens`` are the input tokens that were
not read from a cache, so the four counts add up to everything the model was sent and wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PER_MILLION = 1_000_000.0
_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def find_price(model: str | None, prices: Mapping[str, Any]) -> Any | None:
    """The price of ``model`` in ``prices``, or ``None``.

    The exact name first, then the name without a ``provider/`` prefix (opencode's
    ``openai/gpt-5.5`` is priced by an entry for ``gpt-5.5``), each also case-insensitively.
    """
    if not model or not prices:
        return None
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    for name in names:
        if name in prices:
            return prices[name]
    lowered = {str(key).lower(): value for key, value in prices.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _rate(price: Any, key: str) -> float | None:
    value = price.get(key) if isinstance(price, Mapping) else getattr(price, key, None)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def price_tokens(usage: Mapping[str, Any], price: Any) -> float | None:
    """The cost of ``usage`` (``input_tokens``, ``output_tokens``, ``cache_read_tokens``,
    ``cache_write_tokens``) at ``price``; ``None`` when the price lacks ``input`` or
    ``output``."""
    input_rate = _rate(price, "input")
    output_rate = _rate(price, "output")
    if input_rate is None or output_rate is None:
        return None
    read_rate = _rate(price, "cache_read")
    write_rate = _rate(price, "cache_write")
    total = (
        _count(usage, "input_tokens") * input_rate
        + _count(usage, "output_tokens") * output_rate
        + _count(usage, "cache_read_tokens") * (input_rate if read_rate is None else read_rate)
        + _count(usage, "cache_write_tokens") * (input_rate if write_rate is None else write_rate)
    )
    return total / PER_MILLION


def cost_of(model: str | None, usage: Mapping[str, Any], prices: Mapping[str, Any]) -> float | None:
    """What ``usage`` of ``model`` cost by the ``[prices]`` table; ``None`` without a price."""
    price = find_price(model, prices)
    return None if price is None else price_tokens(usage, price)


def cost_of_models(
    usage_by_model: Mapping[str, Mapping[str, Any]], prices: Mapping[str, Any]
) -> float | None:
    """The summed cost of several models' usage (a run that used a router model and a chat
    model); ``None`` when a model that used tokens has no price, or when none has one."""
    total = 0.0
    priced = False
    for model, usage in usage_by_model.items():
        price = find_price(model, prices)
        if price is None:
            if any(_count(usage, key) for key in _KEYS):
                return None
            continue
        cost = price_tokens(usage, price)
        if cost is None:
            return None
        priced = True
        total += cost
    return total if priced else None
