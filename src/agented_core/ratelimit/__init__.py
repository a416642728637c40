"""Rate-limit detection, reset times and attempt classification: pure functions, no I/O.

- :func:`detect` finds a rate limit in a line (or block) of a CLI's output, plain text or a
  JSON line of its machine-readable form, with its :class:`LimitKind` and reset time. Pattern
  tables for claude, codex, gemini and opencode are built in; plugins add :class:`Pattern`
  objects through the ``agented_ratelimit_patterns`` hook and pass them as ``patterns``.
- :func:`parse_reset` turns a reset hint ("resets 3pm (Europe/Berlin)", "try again in 4 days
  6 hours", "|1760000000") into an aware datetime.
- :func:`classify` names the error kind of a finished attempt (:class:`AttemptOutcome`), or
  ``None`` for success.
"""

from ._classify import AttemptOutcome, classify
from ._detect import detect
from ._reset import parse_reset
from ._types import LimitKind, Pattern, RateLimit

__all__ = [
    "AttemptOutcome",
    "LimitKind",
    "Pattern",
    "RateLimit",
    "classify",
    "detect",
    "parse_reset",
]
