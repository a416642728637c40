"""Storage: the interface and the built-in SQLite backend."""

from .base import Store, StoreFactory

__all__ = ["Store", "StoreFactory"]
