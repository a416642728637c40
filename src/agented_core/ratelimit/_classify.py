"""``classify``: from how an attempt ended to an error kind (DESIGN: "Error kind"), or success."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from ..models import ErrorKind
from ._detect import detect
from ._structured import STATUS_KINDS
from ._types import LimitKind, RateLimit


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _ints(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(values)


def _limit(value: RateLimit | Mapping[str, Any]) -> RateLimit:
    if isinstance(value, RateLimit):
        return value
    if value.get("kind") not in set(LimitKind):
        raise ValueError(
            f"a rate limit needs a kind among {[str(k) for k in LimitKind]}: {value!r}"
        )
    reset = value.get("reset_at")
    if isinstance(reset, str):
        reset = datetime.fromisoformat(reset)
    return RateLimit(
        provider=value.get("provider"),
        kind=LimitKind(value["kind"]),
        reset_at=reset if isinstance(reset, datetime) else None,
        matched=str(value.get("matched", "")),
        retry_after=value.get("retry_after"),
    )


def _limits(values: Iterable[RateLimit | Mapping[str, Any]]) -> tuple[RateLimit, ...]:
    return tuple(_limit(v) for v in values)


@frozen
class AttemptOutcome:
    """How one attempt of a CLI ended, as the runner and the provider's parser saw it.

    Every field but ``exit_code`` is optional; give what is known.
    """

    provider: str | None = None
    """The provider name (``claude``, ``codex``, ``gemini``, ``opencode``, ...): picks the
    pattern table and the meaning of exit codes (Gemini exits with the HTTP status mod 256)."""

    exit_code: int | None = None
    """The process's exit code; negative when a signal ended it (as ``subprocess`` reports),
    ``None`` when unknown."""

    result_ok: bool | None = None
    """The final result's verdict: ``True`` it succeeded, ``False`` it failed (a Claude
    ``result`` with ``is_error``, a Gemini ``result`` with ``status: "error"``, a Codex
    ``turn.failed``); ``None`` when no final result arrived (or the CLI has none)."""

    errors: tuple[str, ...] = field(default=(), converter=_strs)
    """Messages of the error events the provider reported, including a failed result's text."""

    rate_limits: tuple[RateLimit, ...] = field(default=(), converter=_limits)
    """The rate limits :func:`detect` found during the attempt (mappings with a ``kind`` key,
    as in ``rate_limit`` event data, are accepted too)."""

    stderr: str = ""
    """The tail of the attempt's stderr."""

    status_codes: tuple[int, ...] = field(default=(), converter=_ints)
    """HTTP statuses the provider reported (Claude ``api_error_status``, OpenCode
    ``statusCode``, Gemini ``error.code``)."""

    error_codes: tuple[str, ...] = field(default=(), converter=_strs)
    """Machine-readable error codes the provider reported: Claude's ``authentication_failed``
    / ``billing_error`` / ``rate_limit``, OpenAI's ``insufficient_quota``, Gemini's error
    ``type``, or an :class:`ErrorKind` value a parser already decided."""

    launch_error: str | None = None
    """Why the process could not be started, if it could not (the attempt is ``launch``)."""

    idle: bool = False
    """True when the runner stopped the attempt for producing no output."""


_PRIORITY = (
    ErrorKind.LAUNCH,
    ErrorKind.AUTH,
    ErrorKind.QUOTA,
    ErrorKind.CONTEXT,
    ErrorKind.BAD_REQUEST,
    ErrorKind.RATE,
    ErrorKind.OVERLOADED,
    ErrorKind.NETWORK,
    ErrorKind.IDLE,
    ErrorKind.PROVIDER,
)
"""When several kinds have evidence, the first one in this order wins: conditions of the
account (auth, quota) and of the request (context, bad request) outlast transient ones."""

_LIMIT_KINDS = {
    LimitKind.QUOTA: ErrorKind.QUOTA,
    LimitKind.RATE: ErrorKind.RATE,
    LimitKind.OVERLOADED: ErrorKind.OVERLOADED,
}

_STATUS_ERRORS: dict[int, ErrorKind] = {
    **{code: _LIMIT_KINDS[kind] for code, kind in STATUS_KINDS.items()},
    400: ErrorKind.BAD_REQUEST, 401: ErrorKind.AUTH, 403: ErrorKind.AUTH,
    404: ErrorKind.BAD_REQUEST, 405: ErrorKind.BAD_REQUEST, 407: ErrorKind.AUTH,
    408: ErrorKind.NETWORK, 409: ErrorKind.BAD_REQUEST, 413: ErrorKind.CONTEXT,
    415: ErrorKind.BAD_REQUEST, 422: ErrorKind.BAD_REQUEST, 500: ErrorKind.PROVIDER,
    502: ErrorKind.NETWORK, 504: ErrorKind.NETWORK,
}  # fmt: skip

_CODE_ERRORS: dict[str, ErrorKind] = {
    **{kind.value: kind for kind in ErrorKind if kind is not ErrorKind.INTERNAL},
    "internal": ErrorKind.PROVIDER,  # a CLI's "INTERNAL" (HTTP 500), not agented's own failure
    "authentication_failed": ErrorKind.AUTH, "authentication_error": ErrorKind.AUTH,
    "invalid_api_key": ErrorKind.AUTH, "unauthenticated": ErrorKind.AUTH,
    "unauthorized": ErrorKind.AUTH, "permission_denied": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH, "fatalauthenticationerror": ErrorKind.AUTH,
    "providerautherror": ErrorKind.AUTH,
    "billing_error": ErrorKind.QUOTA, "insufficient_quota": ErrorKind.QUOTA,
    "usage_limit_reached": ErrorKind.QUOTA, "quota_exhausted": ErrorKind.QUOTA,
    "payment_required": ErrorKind.QUOTA, "terminalquotaerror": ErrorKind.QUOTA,
    "rate_limit": ErrorKind.RATE, "rate_limit_error": ErrorKind.RATE,
    "rate_limit_exceeded": ErrorKind.RATE, "resource_exhausted": ErrorKind.RATE,
    "too_many_requests": ErrorKind.RATE, "retryablequotaerror": ErrorKind.RATE,
    "overloaded": ErrorKind.OVERLOADED, "overloaded_error": ErrorKind.OVERLOADED,
    "server_is_overloaded": ErrorKind.OVERLOADED, "unavailable": ErrorKind.OVERLOADED,
    "invalid_request": ErrorKind.BAD_REQUEST, "invalid_request_error": ErrorKind.BAD_REQUEST,
    "invalid_argument": ErrorKind.BAD_REQUEST, "not_found_error": ErrorKind.BAD_REQUEST,
    "bad_request": ErrorKind.BAD_REQUEST, "fatalinputerror": ErrorKind.BAD_REQUEST,
    "context_length_exceeded": ErrorKind.CONTEXT, "context_window_exceeded": ErrorKind.CONTEXT,
    "prompt_too_long": ErrorKind.CONTEXT, "request_too_large": ErrorKind.CONTEXT,
    "fatalconfigerror": ErrorKind.LAUNCH, "fatalsandboxerror": ErrorKind.LAUNCH,
    "server_error": ErrorKind.PROVIDER, "api_error": ErrorKind.PROVIDER,
}  # fmt: skip

_GEMINI_EXITS: dict[int, ErrorKind] = {
    41: ErrorKind.AUTH,  # FatalAuthenticationError
    42: ErrorKind.BAD_REQUEST,  # FatalInputError
    44: ErrorKind.LAUNCH,  # FatalSandboxError
    52: ErrorKind.LAUNCH,  # FatalConfigError
    53: ErrorKind.PROVIDER,  # turn limit exceeded
    55: ErrorKind.LAUNCH,  # untrusted folder
    # `process.exit(error.status)`: the HTTP status modulo 256
    **{status % 256: kind for status, kind in _STATUS_ERRORS.items() if status % 256 > 1},
}
_SHELL_EXITS = {126: ErrorKind.LAUNCH, 127: ErrorKind.LAUNCH}  # cannot execute / not found

_F = re.IGNORECASE | re.ASCII
_TEXT_KINDS: tuple[tuple[ErrorKind, re.Pattern[str]], ...] = (
    (
        ErrorKind.AUTH,
        re.compile(
            r"\b(?:invalid|incorrect|missing|expired|revoked|bad)\s+(?:x-)?api[\s_-]?key\b"
            r"|\bapi[\s_-]?key\s+(?:not\s+valid|is\s+(?:invalid|missing|expired)|invalid"
            r"|expired|missing|not\s+(?:found|set|provided)|required)\b"
            r"|\bunauthori[sz]ed\b|\bUNAUTHENTICATED\b|\bPERMISSION_DENIED\b"
            r"|\binvalid_api_key\b|\bauthentication(?:_error|_failed|\s+failed|\s+error"
            r"|\s+required)\b|\bnot\s+logged\s+in\b|\bplease\s+run\s+/login\b"
            r"|\b(?:oauth|access|auth|bearer)\s+token\s+(?:has\s+)?(?:expired|is\s+invalid"
            r"|invalid|revoked)\b|\binvalid\s+auth(?:entication)?\s+method\b"
            r"|\bcould\s+not\s+resolve\s+authentication\b|\bkeychain\b"
            r"|\bmissing\s+environment\s+variable:?\s*`?\w*(?:KEY|TOKEN|SECRET)\w*"
            r"|\b(?:status|error|http)\W{0,3}40[13]\b|\buser\s+not\s+found\b"
            r"|\bcredentials?\s+(?:not\s+found|missing|invalid|expired|are\s+invalid)\b"
            r"|\btoken\s+(?:has\s+)?expired\b|\b\w*Error:\s*40[13]\b",
            _F,
        ),
    ),
    (
        ErrorKind.QUOTA,
        re.compile(
            r"\bcredit\s+balance\s+(?:is\s+)?too\s+low\b|\bbilling_error\b"
            r"|\binsufficient\s+(?:credits|funds|balance)\b|\bpayment\s+required\b",
            _F,
        ),
    ),
    (
        ErrorKind.CONTEXT,
        re.compile(
            r"\bcontext[\s_-]?(?:window|length)\b[^\n]{0,60}?\b(?:exceed\w*|too\s+long"
            r"|full|limit|maximum)\b|\bran\s+out\s+of\s+room\s+in\s+the\s+model\S*\s+context"
            r"|\bcontext_(?:length|window)_exceeded\b|\bprompt\s+is\s+too\s+long\b"
            r"|\b(?:maximum|max)\s+context\s+length\b|\binput\s+is\s+too\s+long\b"
            r"|\btoo\s+many\s+(?:input\s+)?tokens\b|\brequest\s+too\s+large\b"
            r"|\bexceeds?\s+the\s+(?:available\s+|model\S*\s+)?context\b"
            r"|\brequest\s+entity\s+too\s+large\b",
            _F,
        ),
    ),
    (
        ErrorKind.BAD_REQUEST,
        re.compile(
            r"\b(?:status|error|http)\W{0,3}400\b|\b400\s+bad\s+request\b"
            r"|\binvalid_request(?:_error)?\b|\bINVALID_ARGUMENT\b|\bnot_found_error\b"
            r"|\bmodel\b[^\n]{0,60}?\b(?:is\s+not\s+supported|not\s+supported|not\s+found"
            r"|does\s+not\s+exist|is\s+not\s+available)\b|\bunknown\s+model\b"
            r"|\b\w*ModelNotFound\w*|\binvalid\s+(?:argument|parameter)s?\b",
            _F,
        ),
    ),
    (
        ErrorKind.NETWORK,
        re.compile(
            r"\bE(?:CONNRESET|CONNREFUSED|CONNABORTED|TIMEDOUT|NOTFOUND|AI_AGAIN|HOSTUNREACH"
            r"|NETUNREACH|PIPE)\b|\bfetch\s+failed\b|\bconnection\s+(?:error|refused|reset"
            r"|failed|closed|timed\s+out|aborted)\b|\b(?:unable|failed)\s+to\s+connect\b"
            r"|\b(?:cannot|could\s+not|can't)\s+connect\b|\bwaiting\s+for\s+network\b"
            r"|\berror\s+sending\s+request\b|\bstream\s+disconnected\b"
            r"|\bfailed\s+to\s+(?:lookup|resolve)\s+(?:address|host)"
            r"|\bname\s+(?:does\s+not|doesn't)\s+resolve\b|\bname\s+or\s+service\s+not\s+known\b"
            r"|\bnetwork\s+(?:error|is\s+unreachable|unreachable)\b|\bsocket\s+hang\s+up\b"
            r"|\bunexpected\s+EOF\b|\brequest\s+timed\s+out\b|\bgateway\s+time-?out\b"
            r"|\bbad\s+gateway\b",
            _F,
        ),
    ),
)


def _text_kinds(text: str, provider: str | None) -> set[ErrorKind]:
    found: set[ErrorKind] = set()
    if not text.strip():
        return found
    limit = detect(text, provider)
    limited = limit is not None and limit.kind in _LIMIT_KINDS
    if limit is not None and limited:
        found.add(_LIMIT_KINDS[limit.kind])
    for kind, regex in _TEXT_KINDS:
        # a rate limit sent as an "invalid_request_error" (Fireworks' 429) is a rate limit
        if kind is ErrorKind.BAD_REQUEST and limited:
            continue
        if regex.search(text):
            found.add(kind)
    return found


def _ended_well(outcome: AttemptOutcome) -> bool:
    code = outcome.exit_code
    if outcome.result_ok is True:
        return code is None or code <= 0  # a CLI killed after its result still delivered it
    return outcome.result_ok is None and code == 0


def _evidence(outcome: AttemptOutcome) -> set[ErrorKind]:
    found: set[ErrorKind] = set()
    for limit in outcome.rate_limits:
        if limit.kind in _LIMIT_KINDS:
            found.add(_LIMIT_KINDS[limit.kind])
    for status in outcome.status_codes:
        kind = _STATUS_ERRORS.get(status)
        if kind is None and 500 <= status < 600:
            kind = ErrorKind.PROVIDER
        if kind is not None:
            found.add(kind)
    for name in outcome.error_codes:
        kind = _CODE_ERRORS.get(name.strip().lower())
        if kind is not None:
            found.add(kind)
    for message in outcome.errors:
        found |= _text_kinds(message, outcome.provider)
    found |= _text_kinds(outcome.stderr, outcome.provider)
    code = outcome.exit_code
    if code is not None:
        if (outcome.provider or "").lower() == "gemini" and code in _GEMINI_EXITS:
            found.add(_GEMINI_EXITS[code])
        elif code in _SHELL_EXITS:
            found.add(_SHELL_EXITS[code])
    if outcome.idle:
        found.add(ErrorKind.IDLE)
    return found


def classify(outcome: AttemptOutcome) -> ErrorKind | None:
    """The error kind of an attempt, or ``None`` when it succeeded.

    Success: a final result that says so (unless the CLI then exited with a failure code), or
    exit code 0 when no result arrived (a CLI without results, like the shell provider). Only
    then is the rest looked at, so a run that ended well is never a failure because a line
    mentioned a 429 or a rate limit was retried.

    A failure's kind comes from the evidence: the rate limits found, the HTTP statuses and
    error codes reported, the error messages and stderr (rate-limit patterns, then words of
    auth, context-window, bad-request and network errors), and the exit code (Gemini exits
    with the HTTP status modulo 256: 173 is a 429, 145 a 401; 41 is an auth error; 126/127 mean
    the command could not run). When several kinds have evidence, the order is ``launch``,
    ``auth``, ``quota``, ``context``, ``bad_request``, ``rate``, ``overloaded``, ``network``,
    ``idle``, ``provider``. Without evidence the kind is ``provider``. Pure: no I/O.
    """
    if outcome.launch_error is not None:
        return ErrorKind.LAUNCH
    if _ended_well(outcome):
        return None
    found = _evidence(outcome)
    for kind in _PRIORITY:
        if kind in found:
            return kind
    return ErrorKind.PROVIDER
