"""Durations as people write them in a config: ``"20m"``, ``"1h30m"``, ``"90s"``, ``45``."""

from __future__ import annotations

import re

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string of number+unit parts (``"1h30m"``).

    Units: ``ms``, ``s``, ``m``/``min``, ``h``, ``d``. Raises ``ValueError`` for anything else,
    and for negative or zero-length durations.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '20m' or a number of seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("empty duration")
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for part in _PART.finditer(text):
                if part.start() != pos:
                    break
                seconds += float(part.group(1)) * _UNITS[part.group(2).lower()]
                pos = part.end()
            if pos != len(text) or pos == 0:
                raise ValueError(
                    f"cannot read {value!r} as a duration (use e.g. '90s', '20m', '1h30m')"
                ) from None
    else:
        raise ValueError(f"expected a duration such as '20m' or a number of seconds, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form of a number of seconds: ``"1h05m"``, ``"42s"``, ``"850ms"``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{secs}s"
