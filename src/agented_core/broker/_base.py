"""The :class:`Broker` interface: live events, control requests and wake-ups between processes.

The store holds what must last; a broker carries what is only worth something now. Three things
go through it:

- the live events of an execution: its writer :meth:`~Broker.publish`\\ es them as they are
  appended, followers :meth:`~Broker.follow` them from a seq;
- control requests (cancel, pause, resume) for an execution owned by another process, so its
  owner applies them at once instead of at its next poll of the store;
- wake-ups, so a process re-checks the waiting executions now.

A broker is an optimisation over the store, never the record: a message it loses costs latency
(the store is still polled as the fallback), not correctness.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from ..models import Event

CONTROLS = "controls"
"""The channel of control requests; a message is the id of the execution to look at."""

WAKE = "wake"
"""The channel of wake-ups: a message asks every process to look at the waiting executions."""


class Broker(ABC):
    """How processes sharing a store exchange live events, control requests and wake-ups.

    Subclass it and return a factory from the ``agented_brokers`` hook, keyed by URL scheme.
    :mod:`agented_core.broker.testing` has the contract suite a broker must pass.
    """

    shared: bool = False
    """True when the broker carries events between processes (not only within this one).

    Followers of an execution appended by another process follow the broker when it is shared;
    with an in-process broker they poll the store.
    """

    async def open(self) -> None:  # noqa: B027 - optional
        """Connect; called once before any other method."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Disconnect; ends every follower and listener. Called once, last."""

    @abstractmethod
    def publish(self, execution_id: str, events: Sequence[Event]) -> None:
        """Hand over ``events`` (consecutive seqs, in order) of ``execution_id`` to followers.

        Called on every append, so it must not block: a remote broker queues them and sends
        them from a task of its own. Never raises for a follower's sake.
        """

    @abstractmethod
    def end(self, execution_id: str) -> None:
        """The execution's writer stopped appending here: end its followers' iterators."""

    @abstractmethod
    def follow(
        self, execution_id: str, after: int
    ) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Live events of ``execution_id`` with a seq above ``after``, in order, once each.

        ``async with broker.follow(id, after) as events`` subscribes on entering: every event
        published after that is delivered, unless the follower falls too far behind. Events
        published earlier may be delivered too (a broker that keeps a history does). The
        iterator ends when the follower fell behind, at :meth:`end`, or at :meth:`close`; the
        caller then resumes from the store. A gap (a first event above ``after + 1``) is the
        caller's to fill from the store. The caller iterates (and yields) inside the ``async
        with``: it must not hold a cancel scope or task group open meanwhile.
        """

    @abstractmethod
    async def notify(self, channel: str, message: str) -> None:
        """Send ``message`` to every current listener of ``channel`` (in every process)."""

    @abstractmethod
    def listen(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """``async with broker.listen(channel) as messages``: the messages notified from now on.

        Subscribed on entering. Delivery is best-effort (a listener that falls far behind may
        lose messages): what a message asks for must also be found by polling the store.
        """


BrokerFactory = Callable[..., Broker]
"""``factory(url, **options) -> Broker``: an unopened broker for ``url``."""
