"""Merging a bot's settings over the ones a provider writes for its CLI.

A CLI configured by a file or a JSON variable (Gemini's ``settings.json``, opencode's
``OPENCODE_CONFIG_CONTENT``) gets agented's settings with the bot's own table merged over them:
:func:`deep_merge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``: tables merge key by key, anything else replaces.

    Neither argument is changed; the result shares no table with them that it changed.
    """
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
