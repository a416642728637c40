"""Storage: the interface, the built-in SQLite backend, and the thread blocking backends share."""

from .base import Store, StoreFactory
from .serial import SerialThread

__all__ = ["SerialThread", "Store", "StoreFactory"]
