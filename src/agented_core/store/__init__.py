"""Storage: the interface in parts, a composite of parts, and the thread backends share."""

from .base import (
    AuditLog,
    ClaimStore,
    DeliveryLog,
    EventStore,
    ExecutionStore,
    SpendLedger,
    Store,
    StoreFactory,
    StorePart,
)
from .composite import CompositeStore
from .received import ReceivedJSON, entry_json, received
from .search import SearchMatch
from .serial import SerialThread

__all__ = [
    "AuditLog",
    "ClaimStore",
    "CompositeStore",
    "DeliveryLog",
    "EventStore",
    "ExecutionStore",
    "ReceivedJSON",
    "SearchMatch",
    "SerialThread",
    "SpendLedger",
    "Store",
    "StoreFactory",
    "StorePart",
    "entry_json",
    "received",
]
