"""agented-postgres: the PostgreSQL store for agented (psycopg 3, async, pooled).

Installed, it registers the ``postgresql://`` and ``postgres://`` schemes through the
entry-point group ``agented`` (the ``agented_backends`` hook); ``[agented] database =
"postgresql://user@host:5432/dbname"`` then selects it. In Python, pass the module as a plugin::

    import agented_postgres
    async with Agented.open("postgresql://...", plugins=[agented_postgres]) as ag: ...
"""

from __future__ import annotations

from collections.abc import Mapping

from agented_core import hookimpl
from agented_core.store import StoreFactory

from .store import PostgresStore

__version__ = "0.1.0"

__all__ = ["PostgresStore", "__version__", "agented_backends"]


@hookimpl
def agented_backends() -> Mapping[str, StoreFactory]:
    """The store of ``postgresql://`` and ``postgres://`` URLs."""
    return {"postgresql": PostgresStore.from_url, "postgres": PostgresStore.from_url}
