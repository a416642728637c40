"""agented-redis: the Redis broker for agented (several processes and hosts on one store).

Installed, it registers itself through the entry-point group ``agented``; the configuration
then names it::

    [agented]
    broker = "redis://127.0.0.1:6379/0"

Live events travel on one Redis Stream per execution, control requests and wake-ups on pub/sub
channels (:class:`RedisBroker`). In Python, pass the module as a plugin.
"""

from __future__ import annotations

from collections.abc import Mapping

from agented_core import hookimpl
from agented_core.broker import BrokerFactory

from ._broker import RedisBroker

__version__ = "0.1.0"

__all__ = ["RedisBroker", "__version__", "agented_brokers"]


@hookimpl
def agented_brokers() -> Mapping[str, BrokerFactory]:
    """The ``redis://``, ``rediss://`` and ``unix://`` brokers."""
    return {scheme: RedisBroker.from_url for scheme in ("redis", "rediss", "unix")}
