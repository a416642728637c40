"""``GET /metrics``: Prometheus metrics in the text exposition format, every name ``agented_``.

Collected from what exists rather than counters sprinkled through the core:

- the lifecycle hooks (``agented_execution_started`` / ``_finished``, registered as a plugin
  of the app's Agented): executions by bot and status, run duration, queue wait, tokens and
  cost by bot, provider and account, rate-limit events (the attempts' limit kinds);
- the store, at scrape time: executions queued, running, paused and waiting, by bot;
- the app: webhook deliveries by outcome, live SSE and NDJSON clients;
- the store's calls, timed where the store object is (every caller in the process).

Several processes: each process counts its own. Either scrape each process (the default: each
has its own registry), or set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the
processes before they start, and any process answers for all (prometheus-client's multiprocess
mode; see docs/deployment.md).
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agented_core import Execution, Status, hookimpl

from .operations import E401, STRING, Operation

if TYPE_CHECKING:
    from agented_core import Agented


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.WAITING)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))
WAIT_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, float("inf"))
STORE_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, float("inf"))
STORE_CALLS = (
    "save_execution",
    "save_owned",
    "get_execution",
    "list_executions",
    "ids_with_prefix",
    "find_executions",
    "append_events",
    "read_events",
    "last_seq",
    "heartbeat",
    "renew_leases",
    "take_execution",
    "take_controls",
    "claim",
    "record_delivery",
    "list_deliveries",
)


def multiprocess() -> bool:
    """True when prometheus-client's multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR``)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The metrics of one app (their own registry, or the multiprocess files)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._active_seen: set[tuple[str, str]] = set()
        # in multiprocess mode the values live in files; a scrape collects those
        reg = None if multiprocess() else self.registry
        labels = ("bot", "provider", "account")
        self.executions = Counter(
            "agented_executions", "Executions finished, by bot and status", ("bot", "status"),
            registry=reg,
        )  # fmt: skip
        self.duration = Histogram(
            "agented_run_duration_seconds", "From start to finish of an execution", ("bot",),
            buckets=DURATION_BUCKETS, registry=reg,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "agented_queue_wait_seconds", "From queued to the first attempt's start", ("bot",),
            buckets=WAIT_BUCKETS, registry=reg,
        )  # fmt: skip
        self.active = Gauge(
            "agented_executions_active", "Executions queued, running, paused or waiting now",
            ("bot", "status"), registry=reg, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.tokens = Counter(
            "agented_tokens", "Tokens of finished executions", (*labels, "type"), registry=reg
        )
        self.cost = Counter(
            "agented_cost_usd", "Cost of finished executions (USD)", labels, registry=reg
        )
        self.rate_limits = Counter(
            "agented_rate_limit_events", "Attempts stopped by a limit, by kind and provider",
            ("kind", "provider"), registry=reg,
        )  # fmt: skip
        self.deliveries = Counter(
            "agented_webhook_deliveries", "Webhook deliveries by outcome", ("source", "outcome"),
            registry=reg,
        )  # fmt: skip
        self.streams = Gauge(
            "agented_sse_clients", "Live SSE and NDJSON streams", registry=reg,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.store_calls = Histogram(
            "agented_store_call_seconds", "Latency of store calls", ("call",),
            buckets=STORE_BUCKETS, registry=reg,
        )  # fmt: skip

    # the lifecycle, as a plugin of the Agented

    @hookimpl
    def agented_execution_started(self, execution: Execution) -> None:
        """Queue wait: from queued to the first attempt's start."""
        if execution.created_at and execution.started_at:
            wait = (execution.started_at - execution.created_at).total_seconds()
            self.queue_wait.labels(execution.bot).observe(max(wait, 0.0))

    @hookimpl
    def agented_execution_finished(self, execution: Execution) -> None:
        """Status, duration, tokens, cost and limits of a finished execution."""
        bot = execution.bot
        self.executions.labels(bot, execution.status.value).inc()
        if execution.started_at and execution.finished_at:
            took = (execution.finished_at - execution.started_at).total_seconds()
            self.duration.labels(bot).observe(max(took, 0.0))
        where = (bot, execution.provider or "", execution.account or "")
        usage = execution.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            if count:
                self.tokens.labels(*where, kind).inc(count)
        if usage.cost_usd:
            self.cost.labels(*where).inc(usage.cost_usd)
        for attempt in execution.attempts:
            if attempt.limit_kind is not None:
                self.rate_limits.labels(attempt.limit_kind, attempt.provider or "").inc()

    def delivery(self, source: str, outcome: str) -> None:
        """Count a webhook delivery: ``started``, ``duplicate``, ``ignored`` or ``rejected``."""
        self.deliveries.labels(source, outcome).inc()

    def time_store(self, store: Any) -> None:
        """Time the store's calls from now on (wraps the methods of this store object)."""
        for name in STORE_CALLS:
            method = getattr(store, name, None)
            if method is not None and not hasattr(method, "__agented_timed__"):
                setattr(store, name, self._timed(name, method))

    def _timed(self, name: str, method: Callable[..., Awaitable[Any]]) -> Any:
        observe = self.store_calls.labels(name).observe

        @functools.wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                observe(time.perf_counter() - start)

        timed.__agented_timed__ = True  # type: ignore[attr-defined]
        return timed

    async def refresh(self, agented: Agented, streams: int) -> None:
        """Set the gauges read at scrape time (active executions from the store, streams).

        The streams gauge also follows every change (:attr:`Context.streams`), so that in
        multiprocess mode each process's value is current.
        """
        counts = Tally((e.bot, e.status.value) for e in await agented.store.find_executions(ACTIVE))
        for bot in agented.bots:
            for active in ACTIVE:
                counts.setdefault((bot, active.value), 0)
        for gone in self._active_seen - set(counts):  # clear() is not in multiprocess mode
            counts[gone] = 0
        self._active_seen = set(counts)
        for (bot, status), count in counts.items():
            self.active.labels(bot, status).set(count)
        self.streams.set(streams)

    def exposition(self) -> bytes:
        """Every metric in the text format (all processes' in multiprocess mode)."""
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


OPERATIONS = (
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics (text exposition format, names agented_...)",
        {
            "200": {"description": "the metrics", "content": {"text/plain": {"schema": STRING}}},
            "401": E401,
        },
    ),
)
"""The metrics route in the OpenAPI document."""


def routes(metrics: Metrics, agented: Agented, streams: Callable[[], int]) -> list[Route]:
    """The metrics route: ``streams`` tells how many streams the app has open now."""

    async def endpoint(request: Request) -> Response:
        await metrics.refresh(agented, streams())
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", endpoint, methods=["GET"], name="metrics")]
