"""The built-in pattern tables: one per provider CLI, plus generic patterns for any other.

Every table is a tuple of :class:`Pattern`; :func:`builtin_patterns` gives the ones that apply
to a provider name, most specific kind first (notice, quota, overloaded, rate), so a message
that says both "429" and "usage limit reached" is a quota.

Every built-in pattern only matches text that contains one of :data:`KEYWORDS` (in lower case):
:func:`might_match` checks that first, which is what keeps :func:`detect` cheap on the ordinary
lines of a run. A test checks the promise for every pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from ._types import LimitKind, Pattern

QUOTA, RATE, OVERLOADED, NOTICE = (
    LimitKind.QUOTA,
    LimitKind.RATE,
    LimitKind.OVERLOADED,
    LimitKind.NOTICE,
)

KEYWORDS = (
    "limit", "quota", "exhaust", "overload", "too many", "capacity", "429", "529", "503",
    "allowance", "out of", "token usage",
)  # fmt: skip
"""Lower-case words at least one of which every built-in pattern's match contains."""


def might_match(text: str) -> bool:
    """Whether ``text`` contains one of :data:`KEYWORDS` (the cheap test before the patterns)."""
    return has_keyword(text.lower())


def has_keyword(low: str) -> bool:
    """:func:`might_match` for text already in lower case."""
    return (
        "limit" in low
        or "quota" in low
        or "429" in low
        or "exhaust" in low
        or "overload" in low
        or "529" in low
        or "503" in low
        or "too many" in low
        or "capacity" in low
        or "allowance" in low
        or "out of" in low
        or "token usage" in low
    )


_FLAGS = re.IGNORECASE | re.ASCII  # ASCII: a match's keyword letters lower-case to the keyword


def _p(kind: LimitKind, name: str, regex: str) -> Pattern:
    return Pattern(re.compile(regex, _FLAGS), kind, name=name)


_YOU_HIT = r"\byou(?:['\u2019]ve|\s+have)\s+(?:hit|reached)\s+your\s+(?:[\w-]+\s+){0,2}?limit\b"

GENERIC: tuple[Pattern, ...] = (
    # quota: a usage window or a billing quota is used up
    _p(QUOTA, "usage-limit-reached", r"\busage\s+limit\s+(?:has\s+been\s+)?(?:reached|exceeded)\b"),
    _p(QUOTA, "you-hit-your-limit", _YOU_HIT),
    _p(QUOTA, "quota-exceeded", r"\bquota\s+(?:has\s+been\s+)?exceeded\b"),
    _p(QUOTA, "exceeded-your-quota", r"\bexceeded\s+(?:your|the)\s+(?:current\s+)?quota\b"),
    _p(QUOTA, "insufficient-quota", r"\binsufficient[_\s]+quota\b"),
    _p(QUOTA, "quota-codes", r"\b(?:QUOTA_EXHAUSTED|usage_limit_reached|usage_limit_exceeded)\b"),
    _p(QUOTA, "no-quota", r"\byou\s+have\s+no\s+quota\b|\bquota_exceeded\b"),
    _p(QUOTA, "exceeded-token-usage", r"\bexceeded\s+your\s+(?:[\w-]+\s+){0,2}?token usage\b"),
    _p(
        QUOTA,
        "out-of-usage",
        r"\b(?:run|are|you['\u2019]re|is)\s+out of\s+(?:extra\s+|your\s+)?(?:usage|credits)\b",
    ),
    _p(
        QUOTA, "premium-allowance", r"\bexceeded\s+your\s+premium\s+request\s+(?:allowance|limit)\b"
    ),
    # notice: a limit the CLI worked around by switching models
    _p(
        NOTICE,
        "switched-you-to",
        r"\b(?:allowance|limit)\b[\s\S]{0,120}?\b(?:automatically\s+)?switched\s+you\s+to\b",
    ),
    # overloaded: the API is busy
    _p(OVERLOADED, "overloaded-error", r"\boverloaded_error\b"),
    _p(OVERLOADED, "529-overloaded", r"\b529\b\W{0,3}(?:overloaded\b|\{)"),
    _p(OVERLOADED, "status-529", r"\b(?:error|status(?:\s+code)?|http)\W{0,3}529\b"),
    _p(
        OVERLOADED,
        "is-overloaded",
        r"\b(?:api|server|servers|model|service|engine)\s+(?:is|are)\s+"
        r"(?:currently\s+|temporarily\s+)?overloaded\b",
    ),
    _p(OVERLOADED, "overloaded-message", r"[\"']message[\"']\s*:\s*[\"']overloaded\b"),
    _p(OVERLOADED, "503-unavailable", r"\b503\b\W{0,3}service\s+unavailable\b"),
    _p(OVERLOADED, "http-503", r"\b(?:http(?:/[\d.]+)?|status(?:\s+code)?)\s*:?\s*503\b"),
    _p(OVERLOADED, "no-capacity", r"\b(?:no|insufficient)\s+capacity\s+available\b"),
    _p(OVERLOADED, "capacity-exhausted", r"\bMODEL_CAPACITY_EXHAUSTED\b"),
    _p(
        OVERLOADED,
        "at-capacity",
        r"\b(?:model|server|servers|service)\s+(?:is|are)\s+(?:currently\s+)?at\s+capacity\b",
    ),
    # rate: a short limit, retry soon
    _p(
        RATE,
        "rate-limit-reached",
        r"\brate\s+limit\s+(?:has\s+been\s+)?(?:reached|exceeded|hit)\b",
    ),
    _p(
        RATE,
        "rate-limit-codes",
        r"\brate_limit_(?:exceeded|error|reached)(?:_error)?\b|\brateLimitExceeded\b",
    ),
    _p(RATE, "rate-limit-error-class", r"\bRateLimitError:[ \t]+\S"),
    _p(
        RATE,
        "hit-a-rate-limit",
        r"\b(?:hit|reached|exceeded)\s+(?:a|its|your|the)\s+rate\s+limit\b",
    ),
    _p(RATE, "was-rate-limited", r"\b(?:was|were|been|got|is|are)\s+rate[\s-]limited\b"),
    _p(RATE, "rate-limited-code", r"[\"']rate_limited[\"']"),
    _p(RATE, "retries-for-rate-limit", r"\bretry\s+attempts\s+reached\s+for\s+rate\s+limit\b"),
    _p(
        RATE,
        "exceeds-rate-limit",
        r"\b(?:would\s+exceed|exceeds\s+your|you\s+have\s+exceeded\s+(?:the|your))\s+"
        r"(?:[\w'\u2019,-]+\s+){0,4}?rate\s+limit\b",
    ),
    _p(RATE, "http-429", r"\bhttp(?:/[\d.]+)?\s+(?:status\s+)?429\b"),
    _p(RATE, "status-429", r"\bstatus(?:\s+code)?\s*[:=]?\s*429\b"),
    _p(RATE, "error-429", r"\berror\s*[:(]?\s*429\b"),
    _p(RATE, "paren-429", r"\(429\)"),
    _p(RATE, "429-too-many", r"\b429\b\W{0,3}too many requests\b|\b429\s*\{"),
    _p(
        RATE,
        "json-429",
        r"[\"'](?:code|status|statusCode|status_code|error_status|api_error_status|http_status)"
        r"[\"']\s*:\s*[\"']?429\b",
    ),
    _p(RATE, "code-429", r"\bcode\s*[:=]\s*429\b"),
    _p(
        RATE,
        "too-many-requests",
        r"(?:\b(?:error|exception|status)\W{1,3}|[\"'])too many requests\b",
    ),
    _p(RATE, "resource-has-been-exhausted", r"\bresource\s+has\s+been\s+exhausted\b"),
    Pattern(re.compile(r"\bRESOURCE_EXHAUSTED\b", re.ASCII), RATE, name="resource-exhausted"),
)

CLAUDE: tuple[Pattern, ...] = (
    _p(
        NOTICE,
        "model-fallback",
        r"\blimit\s+reached\s*[,;:.\u2013\u2014-]?\s*(?:now\s+using|switching\s+to|falling\s+back\s+to)\b",
    ),
    _p(NOTICE, "approaching-limit", r"\bapproaching\s+(?:your\s+)?(?:[\w-]+\s+){0,2}?limit\b"),
    _p(QUOTA, "claude-usage-limit", r"\bclaude(?:\s+ai)?\s+usage\s+limit\s+reached\b"),
    _p(
        QUOTA,
        "window-limit-reached",
        r"\b(?:\d+[- ]hour|five[- ]hour|session|weekly|daily|monthly|opus|sonnet|haiku)\s+"
        r"limit\s+(?:reached|hit|exceeded)\b",
    ),
    _p(QUOTA, "limit-will-reset", r"\blimits?\s+will\s+reset\b"),
    _p(QUOTA, "limit-reached-resets", r"\blimit\s+reached\W{0,5}resets?\b"),
    _p(OVERLOADED, "api-error-529", r"\bapi\s+error\W{0,3}529\b"),
    _p(
        OVERLOADED,
        "server-limiting",
        r"\bserver\s+is\s+temporarily\s+limiting\s+requests\b",
    ),
    _p(RATE, "request-rejected-429", r"\brequest\s+rejected\s*\(429\)"),
    _p(RATE, "api-error-429", r"\bapi\s+error\W{0,3}429\b"),
)

CODEX: tuple[Pattern, ...] = (
    _p(QUOTA, "codex-usage-limit", r"\bhit\s+your\s+usage\s+limit\b"),
    _p(OVERLOADED, "codex-overloaded", r"\bserver_is_overloaded\b"),
    _p(RATE, "codex-retry-limit-429", r"\bexceeded\s+retry\s+limit,\s+last\s+status:\s+429\b"),
)

GEMINI: tuple[Pattern, ...] = (
    _p(
        NOTICE,
        "gemini-fallback",
        r"\b(?:quota|limit)\b[\s\S]{0,300}?\b(?:automatically\s+)?switch(?:ing|ed)\s+"
        r"(?:from\s+\S+\s+)?to\s+\S+",
    ),
    _p(
        QUOTA,
        "daily-quota",
        r"\breached\s+your\s+(?:daily|weekly|monthly)\s+(?:[\w.-]+\s+)?quota(?:\s+limit)?\b",
    ),
    _p(
        QUOTA,
        "exhausted-your",
        r"\bexhausted\s+your\s+(?:daily\s+|weekly\s+|monthly\s+)?(?:capacity|quota)\b",
    ),
    _p(QUOTA, "quota-will-reset", r"\bquota\s+will\s+reset\b"),
    _p(QUOTA, "quota-per-day", r"\bquota\b[\s\S]{0,300}?\bper\s*day\b"),
    _p(QUOTA, "terminal-quota", r"\bTerminalQuotaError\b"),
    _p(OVERLOADED, "code-503", r"[\"']code[\"']\s*:\s*503\b"),
    _p(RATE, "retryable-quota", r"\bRetryableQuotaError\b"),
    _p(RATE, "quota-per-minute", r"\bquota\b[\s\S]{0,300}?\bper\s*minute\b"),
    _p(RATE, "attempt-failed-429", r"\bfailed\s+with\s+status\s+429\b"),
)

OPENCODE: tuple[Pattern, ...] = (
    _p(QUOTA, "window-usage-limit", r"\b(?:daily|weekly|monthly)\s+(?:usage\s+)?limit\s+reached\b"),
    _p(QUOTA, "free-usage-limit", r"\bFreeUsageLimitError\b"),
    _p(OVERLOADED, "status-code-overloaded", r"[\"']statusCode[\"']\s*:\s*(?:529|503)\b"),
    _p(RATE, "status-code-429", r"[\"']statusCode[\"']\s*:\s*429\b"),
    _p(RATE, "request-rate-limit", r"\bexceeded\s+the\s+request\s+rate\s+limit\b"),
)

TABLES: Mapping[str, tuple[Pattern, ...]] = MappingProxyType(
    {
        "claude": CLAUDE,
        "codex": CODEX,
        "gemini": GEMINI,
        "opencode": OPENCODE,
    }
)
"""The provider tables by provider name (the generic patterns apply to every provider too)."""

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "qwen": "gemini",  # Qwen Code is a fork of the Gemini CLI and words limits the same way
        "kilo": "opencode",  # kilo is a fork of opencode
    }
)
"""Providers whose CLI is a fork of another's, by the name of the table they use."""

_ORDER = {NOTICE: 0, QUOTA: 1, OVERLOADED: 2, RATE: 3}


def _ordered(*tables: tuple[Pattern, ...]) -> tuple[Pattern, ...]:
    merged = [p for table in tables for p in table]
    return tuple(sorted(merged, key=lambda p: _ORDER[p.kind]))


_FOR_PROVIDER: Mapping[str | None, tuple[Pattern, ...]] = MappingProxyType(
    {
        **{name: _ordered(table, GENERIC) for name, table in TABLES.items()},
        **{alias: _ordered(TABLES[name], GENERIC) for alias, name in ALIASES.items()},
        None: _ordered(*TABLES.values(), GENERIC),
    }
)
_GENERIC_ORDERED = _ordered(GENERIC)


def builtin_patterns(provider: str | None) -> tuple[Pattern, ...]:
    """The built-in patterns for ``provider``, most specific kind first.

    A known provider gets its table and the generic patterns; ``None`` gets every table; any
    other name gets the generic patterns only.
    """
    if provider is None:
        return _FOR_PROVIDER[None]
    return _FOR_PROVIDER.get(provider.strip().lower(), _GENERIC_ORDERED)
