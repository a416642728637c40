"""Redacting secret values from events before they are stored or streamed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[redacted]"

SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE)", re.IGNORECASE
)
"""Variable names whose values are treated as secrets wherever they come from."""

MIN_SECRET_LENGTH = 6
"""Shorter values are not redacted: masking "1" or "true" everywhere would garble every event."""


def secret_values(env: Mapping[str, str], always: Iterable[str] = ()) -> list[str]:
    """The values of ``env`` that are secrets: those named like one, and those listed in ``always``.

    ``always`` names variables that are secrets whatever their name (e.g. every ``env_from``
    variable, which copies a host value into the child).
    """
    forced = set(always)
    values = {
        value
        for name, value in env.items()
        if (name in forced or SECRET_NAME.search(name)) and len(value) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


class Redactor:
    """Replaces every occurrence of the given secret values with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self.secrets = values
        self._pattern = re.compile("|".join(re.escape(s) for s in values)) if values else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str | None) -> str | None:
        """``value`` with secrets masked."""
        if value is None or self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def data(self, value: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``value`` with secrets masked in every string, keys included."""
        if self._pattern is None or not value:
            return value
        out = self._walk(value)
        assert isinstance(out, dict)
        return out

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        return value
