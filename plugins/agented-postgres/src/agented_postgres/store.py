"""The whole store: every part over one pool of connections to one database (or schema)."""

from __future__ import annotations

from pathlib import Path

from agented_core.store import Store

from .audit import PostgresAudit
from .claims import PostgresClaims
from .deliveries import PostgresDeliveries
from .events import PostgresEvents
from .executions import PostgresExecutions
from .indexer import SearchIndexer
from .pool import Connection, Database, Settings
from .schema import MIGRATIONS, migrate, schema_version


class PostgresStore(
    PostgresExecutions,
    PostgresEvents,
    PostgresClaims,
    PostgresDeliveries,
    PostgresAudit,
    Store,
):
    """A :class:`~agented_core.store.Store` in PostgreSQL (``postgresql://`` URLs).

    Opening connects once, applies the migrations under an advisory lock, then opens a pool of
    ``pool_size`` connections (a URL parameter, default 10) and starts the task that fills the
    search index behind the events (:class:`~agented_postgres.indexer.SearchIndexer`). A call
    that finds the server gone retries with backoff for up to ``retry_seconds`` (default 120)
    before it fails.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = Settings(url)
        self._db = Database(self.settings)
        self._indexer = SearchIndexer(self._db)
        self.migrated = 0
        """How many migrations the last :meth:`open` applied."""

    @classmethod
    def from_url(cls, url: str, *, base_dir: Path | None = None) -> PostgresStore:
        """The store of a ``postgresql://`` (or ``postgres://``) URL; ``base_dir`` is unused."""
        return cls(url)

    async def open(self) -> None:
        if self._db.is_open:
            return

        async def prepare(conn: Connection) -> None:
            self.migrated = await migrate(conn, self.settings.schema, self.settings.where)

        await self._db.open(prepare)
        if self.index_search:
            self._indexer.start()

    async def close(self) -> None:
        await self._indexer.close()
        await self._db.close()

    async def ping(self) -> None:
        async def ping(conn: Connection) -> None:
            await conn.execute("SELECT 1")

        await self._db.run(ping, retry=False)  # readiness: an answer now, not after retries

    async def schema_version(self) -> int:
        """The number of migrations applied to this database."""
        return await self._db.run(schema_version)

    @staticmethod
    def latest_version() -> int:
        """The number of migrations this package knows."""
        return len(MIGRATIONS)
