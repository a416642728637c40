"""The plain value objects that flow through a run: bots, triggers, executions, events.

They are attrs classes; :mod:`agented_core.converter` turns them into JSON-ready data and back.
Durations are seconds (floats); times are aware ``datetime`` objects in UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import define, field, frozen

from .params import Param, as_params


class Status(enum.StrEnum):
    """The status of an execution (DESIGN: "Status")."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        """True for the statuses an execution never leaves."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.BUDGET_EXCEEDED,
        Status.INTERRUPTED,
        Status.SKIPPED,
    }
)


class ErrorKind(enum.StrEnum):
    """Why an attempt or execution failed (DESIGN: "Error kind")."""

    AUTH = "auth"
    QUOTA = "quota"
    RATE = "rate"
    OVERLOADED = "overloaded"
    NETWORK = "network"
    LAUNCH = "launch"
    WORKSPACE = "workspace"
    BAD_REQUEST = "bad_request"
    CONTEXT = "context"
    IDLE = "idle"
    PROVIDER = "provider"
    INTERNAL = "internal"


class EventKind:
    """Names of the event kinds agented itself knows. The set is open: others pass through."""

    STATUS = "status"
    SESSION = "session"
    TEXT = "text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    FILE_CHANGE = "file_change"
    USAGE = "usage"
    RESULT = "result"
    RETRY = "retry"
    RATE_LIMIT = "rate_limit"
    ERROR = "error"
    STDERR = "stderr"
    RAW = "raw"
    RESYNC = "resync"
    WORKSPACE = "workspace"


class ConcurrencyPolicy(enum.StrEnum):
    """What happens to a run whose concurrency group is full."""

    QUEUE = "queue"
    CANCEL_IN_PROGRESS = "cancel-in-progress"
    SKIP = "skip"


class CatchUp(enum.StrEnum):
    """What a schedule does about fires missed while nothing was running."""

    SKIP = "skip"
    ONCE = "once"


class TriggerKind(enum.StrEnum):
    """What started an execution."""

    MANUAL = "manual"
    API = "api"
    GITHUB = "github"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    RERUN = "rerun"


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@frozen
class GitHubTrigger:
    """Fire on a GitHub webhook delivery of ``event`` that passes every filter given.

    Empty filters match everything. ``repos``, ``branches`` and ``paths`` are globs; ``commands``
    are comment commands such as ``/review`` (at the start of a line) or mentions (``@bot``).
    """

    event: str
    actions: tuple[str, ...] = field(default=(), converter=_strs)
    repos: tuple[str, ...] = field(default=(), converter=_strs)
    branches: tuple[str, ...] = field(default=(), converter=_strs)
    labels: tuple[str, ...] = field(default=(), converter=_strs)
    paths: tuple[str, ...] = field(default=(), converter=_strs)
    authors: tuple[str, ...] = field(default=(), converter=_strs)
    commands: tuple[str, ...] = field(default=(), converter=_strs)
    ignore_bots: bool = True
    drafts: bool = True
    """``False`` skips draft pull requests."""
    author_associations: tuple[str, ...] = field(default=(), converter=_strs)
    """The author's association with the repository (``OWNER``, ``MEMBER``, ...), any of."""
    extra: Mapping[str, Any] = field(factory=dict)
    """The values of keys plugins declare (``agented_config_keys``), by key."""


@frozen
class ScheduleTrigger:
    """Fire on a cron expression, read in ``timezone`` (IANA name; the config's default if None)."""

    cron: str
    timezone: str | None = None
    catch_up: CatchUp = CatchUp.SKIP
    jitter: float = 0.0
    extra: Mapping[str, Any] = field(factory=dict)
    """The values of keys plugins declare (``agented_config_keys``), by key."""


@frozen
class ManualTrigger:
    """Allow runs on demand (CLI, API) with the declared ``params``.

    Each entry is a :class:`~agented_core.params.Param`; a bare name given here becomes a
    required string parameter, so ``ManualTrigger(params=["who"])`` declares ``who``.
    """

    params: tuple[Param, ...] = field(default=(), converter=as_params)
    extra: Mapping[str, Any] = field(factory=dict)
    """The values of keys plugins declare (``agented_config_keys``), by key."""

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the declared parameters."""
        return tuple(p.name for p in self.params)


@frozen
class WebhookTrigger:
    """Fire on a delivery to the generic source ``source`` whose fields match ``filters``.

    ``filters`` maps a dotted path into the JSON body to a glob, or a list of globs.
    """

    source: str
    filters: Mapping[str, tuple[str, ...]] = field(factory=dict)
    extra: Mapping[str, Any] = field(factory=dict)
    """The values of keys plugins declare (``agented_config_keys``), by key."""


Trigger = GitHubTrigger | ScheduleTrigger | ManualTrigger | WebhookTrigger


@frozen
class Concurrency:
    """How many runs of a bot may run at once, and what to do with more.

    ``group`` is a template; runs whose rendered group keys are equal share ``limit``.
    """

    limit: int | None = None
    group: str | None = None
    policy: ConcurrencyPolicy = ConcurrencyPolicy.QUEUE


@frozen
class Account:
    """A named set of credentials for a provider.

    ``env`` is set in the child's environment as given; ``env_from`` maps a child variable to the
    name of a host variable whose value it takes. ``max_cost_usd_per_day`` / ``_per_month``
    cap what runs on it may spend (the chain passes over an account at its cap).
    """

    name: str
    provider: str
    env: Mapping[str, str] = field(factory=dict)
    env_from: Mapping[str, str] = field(factory=dict)
    max_cost_usd_per_day: float | None = None
    """Spend cap of the account's runs over a calendar day (``[agented] timezone``)."""
    max_cost_usd_per_month: float | None = None
    """Spend cap of the account's runs over a calendar month."""


@frozen
class ChainEntry:
    """One step of a fallback chain: a provider, an account of it (or its own login), a model.

    ``model`` ``None``: the bot's model when the entry is of the bot's provider, else the
    provider's default (a model name is meant for one provider; see :meth:`Bot.model_for`).
    """

    provider: str
    account: str | None = None
    model: str | None = None

    def __str__(self) -> str:
        return f"{self.provider}:{self.account}" if self.account else self.provider


class CheckoutKind(enum.StrEnum):
    """What a bot checks out: nothing, the delivery's commit, a PR's merge ref, or a named ref."""

    NONE = "none"
    HEAD = "head"
    MERGE = "merge"
    REF = "ref"


@frozen
class Checkout:
    """A bot's ``checkout``: ``"none"``, ``"head"``, ``"merge"`` or ``{ repo, ref }`` (``ref``).

    ``repo`` (``"owner/name"``, a clone URL or a local path) and ``ref`` (a branch, a tag, a full
    ref or a commit sha; the remote's default branch when ``None``) are templates, rendered with
    the run's context, so a manual run may pass them as parameters.
    """

    kind: CheckoutKind = CheckoutKind.NONE
    repo: str | None = None
    ref: str | None = None

    @property
    def enabled(self) -> bool:
        """True when the bot gets a workspace."""
        return self.kind is not CheckoutKind.NONE


def as_checkout(value: Any) -> Checkout:
    """A :class:`Checkout` from ``"none"``/``"head"``/``"merge"``, ``{repo, ref}`` or itself."""
    if isinstance(value, Checkout):
        return value
    if isinstance(value, str):
        kind = CheckoutKind(value)
        if kind is CheckoutKind.REF:
            raise ValueError('checkout \'ref\' needs a table: { repo = "o/r", ref = "main" }')
        return Checkout(kind)
    if isinstance(value, Mapping):
        return Checkout(CheckoutKind.REF, repo=value.get("repo"), ref=value.get("ref"))
    raise TypeError(f"expected a checkout, got {type(value).__name__}")


class KeepWorkspace(enum.StrEnum):
    """When a run's workspace stays on disk after the execution ends."""

    NEVER = "never"
    ON_FAILURE = "on_failure"
    ALWAYS = "always"

    def keeps(self, status: Status) -> bool:
        """True when a workspace of an execution ending ``status`` is kept.

        ``on_failure`` keeps it after ``failed``, ``timed_out``, ``budget_exceeded`` and
        ``interrupted``; a success, a cancel and a skip remove it.
        """
        if self is KeepWorkspace.ALWAYS:
            return True
        if self is KeepWorkspace.ON_FAILURE:
            return status in FAILURE_STATUSES
        return False


FAILURE_STATUSES = frozenset(
    {Status.FAILED, Status.TIMED_OUT, Status.BUDGET_EXCEEDED, Status.INTERRUPTED}
)


@frozen
class Workspace:
    """An execution's checkout: the worktree's ``path``, the ``repo``, the exact ``sha`` and the
    ``ref`` it came from (the prompt context's ``workspace``)."""

    path: str
    repo: str
    sha: str
    ref: str


@frozen
class Bot:
    """A prompt template (or command) plus the CLI that runs it, and when it runs."""

    name: str
    provider: str = "shell"
    account: str | None = None
    fallback: tuple[ChainEntry, ...] = ()
    model: str | None = None
    prompt: str | None = None
    command: tuple[str, ...] = field(default=(), converter=_strs)
    workdir: str | None = None
    triggers: tuple[Trigger, ...] = ()
    timeout: float | None = None
    idle_timeout: float | None = None
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    max_cost_usd_per_day: float | None = None
    max_cost_usd_per_month: float | None = None
    max_attempts: int = 3
    retry_interrupted: bool = False
    """An attempt cut by its worker's or host's death runs again (while attempts remain)
    instead of the execution ending ``interrupted``."""
    concurrency: Concurrency = Concurrency()
    env: Mapping[str, str] = field(factory=dict)
    options: Mapping[str, Any] = field(factory=dict)
    extra_args: tuple[str, ...] = field(default=(), converter=_strs)
    allowed_tools: tuple[str, ...] = field(default=(), converter=_strs)
    disallowed_tools: tuple[str, ...] = field(default=(), converter=_strs)
    mcp_config: str | None = None
    description: str | None = None
    checkout: Checkout = field(default=Checkout(), converter=as_checkout)
    """What the run checks out into its own worktree (``workdir`` is then relative to it)."""
    keep_workspace: KeepWorkspace = KeepWorkspace.NEVER
    checkout_untrusted: bool = False
    """Check out a fork's code on ``pull_request_target`` and ``issue_comment`` deliveries."""
    extra: Mapping[str, Any] = field(factory=dict)
    """The values of keys plugins declare (``agented_config_keys``), by key."""

    @property
    def chain(self) -> tuple[ChainEntry, ...]:
        """The bot's own provider and account, then its fallback entries."""
        return (ChainEntry(self.provider, self.account), *self.fallback)

    def model_for(self, entry: ChainEntry) -> str | None:
        """The model an attempt on ``entry`` runs: the entry's own, else the bot's when the
        entry is of the bot's provider, else ``None`` (the provider's default)."""
        if entry.model is not None:
            return entry.model
        return self.model if entry.provider == self.provider else None

    @property
    def manual_params(self) -> tuple[str, ...]:
        """Every parameter name declared by the bot's manual triggers."""
        return tuple(p.name for p in self.param_specs)

    @property
    def param_specs(self) -> tuple[Param, ...]:
        """Every parameter the bot's manual triggers declare; the first declaration of a name
        wins."""
        specs: dict[str, Param] = {}
        for trigger in self.triggers:
            if isinstance(trigger, ManualTrigger):
                for param in trigger.params:
                    specs.setdefault(param.name, param)
        return tuple(specs.values())


@define
class Usage:
    """Token counts and cost of an execution so far (running totals)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        """All tokens counted against a ``max_tokens`` budget."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


@frozen
class HookFailure:
    """A lifecycle hook's implementation that raised: which hook, which plugin, the error."""

    hook: str
    plugin: str
    message: str

    def event_data(self) -> dict[str, str]:
        """The data of the ``error`` event that records it on an execution."""
        return {"kind": "plugin", "hook": self.hook, "plugin": self.plugin, "message": self.message}


@frozen
class Progress:
    """A running execution's totals so far, as ``agented_execution_progress`` is given them.

    ``events``: the execution's events (its last seq); ``tool_calls`` and ``file_changes``: the
    ``tool_call`` and ``file_change`` events of the running attempt; ``usage``: tokens and
    cost over every attempt; ``attempt``: the attempt running.
    """

    attempt: int
    events: int
    tool_calls: int = 0
    file_changes: int = 0
    usage: Usage = field(factory=Usage)


@define
class AttemptRecord:
    """One attempt of an execution: where it ran, how it ended, and what was decided next."""

    number: int
    provider: str
    account: str | None = None
    model: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    limit_kind: str | None = None
    reset_at: datetime | None = None
    decision: str | None = None
    headroom: dict[str, Any] | None = None
    """The usage window the CLI last reported during the attempt (``{window, status,
    utilization, resets_at, observed_at}``), when it reports one."""


@define
class Execution:
    """One run of a bot, across all its attempts. ``id`` sorts by creation time.

    ``owner`` is the process that runs it. ``pgid``, ``process_start`` (clock ticks since
    boot: the leader's start, or a moment before it while the leader is not yet known) and
    ``run_tag`` (the attempt's ``AGENTED_RUN``) identify the current attempt's processes, so
    that another process can end them, and only them, once the owner is gone.
    """

    id: str
    bot: str
    trigger: TriggerKind
    status: Status = Status.QUEUED
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    delivery_id: str | None = None
    params: Mapping[str, Any] = field(factory=dict)
    context: Mapping[str, Any] = field(factory=dict)
    prompt: str | None = None
    command: tuple[str, ...] = ()
    provider: str | None = None
    account: str | None = None
    model: str | None = None
    attempt: int = 0
    error_kind: ErrorKind | None = None
    error: str | None = None
    exit_code: int | None = None
    usage: Usage = field(factory=Usage)
    result: str | None = None
    session_id: str | None = None
    owner: str | None = None
    heartbeat_at: datetime | None = None
    pgid: int | None = None
    process_start: int | None = None
    run_tag: str | None = None
    retry_at: datetime | None = None
    rerun_of: str | None = None
    last_seq: int = 0
    attempts: list[AttemptRecord] = field(factory=list)
    workspace: Workspace | None = None
    """The checkout of a bot with ``checkout`` set, once made (kept across attempts)."""

    @property
    def cost_usd(self) -> float | None:
        """The execution's cost so far, if its provider reports or prices it."""
        return self.usage.cost_usd

    @property
    def terminal(self) -> bool:
        """True once the execution has finished for good."""
        return self.status.terminal


@define(slots=True)
class Event:
    """One normalized event of an execution. ``seq`` counts 1, 2, 3 ... across attempts."""

    execution_id: str
    seq: int
    time: datetime
    attempt: int
    kind: str
    text: str | None = None
    data: dict[str, Any] = field(factory=dict)


@frozen
class EventDraft:
    """An event as a provider produces it, before the event log numbers and stamps it."""

    kind: str
    text: str | None = None
    data: dict[str, Any] = field(factory=dict)


@frozen
class Command:
    """How to start a provider's CLI for one attempt.

    ``stdin`` is written to the child and then closed; with ``None`` the child's stdin is
    closed at once (so no CLI waits for input that never comes).
    """

    argv: tuple[str, ...] = field(converter=_strs)
    env: Mapping[str, str] = field(factory=dict)
    cwd: str | None = None
    stdin: bytes | None = None

    def recorded(self, prompt: str | None) -> tuple[str, ...]:
        """The argv as stored: the prompt, where it is an argument, becomes ``<prompt>``."""
        if not prompt:
            return self.argv
        return tuple(
            "<prompt>" if arg == prompt else arg.replace(prompt, "<prompt>") for arg in self.argv
        )
