"""Brokers: how processes sharing a store exchange live events, control requests and wake-ups.

- :class:`Broker`: the interface (publish and follow an execution's live events; notify and
  listen on a channel); :data:`CONTROLS` and :data:`WAKE` are the channels agented uses.
- :class:`LocalBroker`: the in-process broker, the default when ``broker`` is not configured.
- :mod:`agented_core.broker.testing`: the contract suite every broker passes.

A plugin adds a broker with the ``agented_brokers`` hook: factories by URL scheme.
"""

from ._base import CONTROLS, WAKE, Broker, BrokerFactory
from ._local import LocalBroker

__all__ = ["CONTROLS", "WAKE", "Broker", "BrokerFactory", "LocalBroker"]
