"""The PostgreSQL store: the backend contract suite, migrations, its URL and its errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from agented_postgres import PostgresStore
from agented_postgres.pool import Settings, redact
from agented_postgres.schema import MIGRATIONS

from agented_core.errors import StoreError
from agented_core.plugins import Plugins
from agented_core.store import Store
from agented_core.store.testing import StoreContract
from pg_support import fresh_schema, server


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


class TestPostgres(StoreContract):
    """One schema, opened by two stores (two pools) as by two processes."""

    @pytest.fixture
    def store_factory(self, pg_url: str) -> Callable[[], Store]:
        return lambda: PostgresStore(pg_url)


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_scheme_is_registered_through_entry_points(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        store = Plugins().open_store(url)
        assert isinstance(store, PostgresStore)
        await store.open()
        await store.ping()
        await store.close()


async def test_processes_starting_together_migrate_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for store in stores:
            tg.start_soon(store.open)
    assert sorted(s.migrated for s in stores) == [0, 0, 0, len(MIGRATIONS)]
    assert await stores[0].schema_version() == len(MIGRATIONS)
    for store in stores:
        await store.close()
    again = PostgresStore(pg_url)
    await again.open()
    assert again.migrated == 0
    await again.close()


async def test_a_newer_schema_is_refused_and_left_alone(pg_url: str) -> None:
    import psycopg

    store = PostgresStore(pg_url)
    await store.open()
    await store.close()
    settings = Settings(pg_url)
    async with await psycopg.AsyncConnection.connect(
        settings.conninfo, **settings.connect_kwargs()
    ) as conn:
        await conn.execute("UPDATE agented_schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer than this agented-postgres knows"):
        await PostgresStore(pg_url).open()


async def test_events_stored_before_search_are_found_after_the_upgrade(pg_url: str) -> None:
    import psycopg

    settings = Settings(pg_url)
    async with await psycopg.AsyncConnection.connect(
        settings.conninfo, **settings.connect_kwargs()
    ) as conn:  # the schema as the first release left it, with an event
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {settings.schema}".encode())
        await conn.execute(f"SET search_path = {settings.schema}".encode())
        await conn.execute(MIGRATIONS[0].encode())
        await conn.execute("CREATE TABLE agented_schema_version (version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO agented_schema_version VALUES (1)")
        await conn.execute(
            "INSERT INTO events VALUES ('01OLD', 1, now(), 1, 'text', 'Old Deploy failed', NULL)"
        )
        await conn.commit()
    store = PostgresStore(pg_url)
    await store.open()
    try:
        assert store.migrated == len(MIGRATIONS) - 1
        found = await store.search_events("deploy FAILED")
        assert [(m.execution_id, m.events[0].text) for m in found] == [
            ("01OLD", "Old Deploy failed")
        ]
    finally:
        await store.close()


async def test_an_unreachable_server_is_one_clear_line() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = PostgresStore(f"postgresql://root:sekret@127.0.0.1:{port}/test")
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/test" in message
    assert "\n" not in message and "sekret" not in message


def test_url_parameters_are_checked_and_kept_out_of_libpq() -> None:
    settings = Settings("postgresql://u:pw@h:5433/db?pool_size=3&schema=s1&sslmode=disable")
    assert settings.pool_size == 3 and settings.schema == "s1"
    assert "pool_size" not in settings.conninfo and "sslmode=disable" in settings.conninfo
    assert redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    tuned = Settings("postgresql://u@h/db?synchronous_commit=off&options=-c%20work_mem%3D8MB")
    assert tuned.connect_kwargs()["options"] == (
        "-c work_mem=8MB -c TimeZone=UTC -c synchronous_commit=off"
    )
    for bad in ("pool_size=0", "pool_size=x", "schema=Bad-Name", "synchronous_commit=maybe"):
        with pytest.raises(StoreError):
            Settings(f"postgresql://u@h/db?{bad}")
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        Settings("mysql://u@h/db")


def test_server_is_probed() -> None:
    assert server().startswith("postgres")


@pytest.mark.parametrize("size", [3, 200])  # one statement, or COPY
async def test_a_nul_in_an_event_is_stored_as_a_replacement_character(
    pg_url: str, size: int
) -> None:
    from agented_core.store.testing import event

    store = PostgresStore(pg_url)
    await store.open()
    try:
        events = [event("n", seq, data={"t": "a\x00b"}) for seq in range(1, size + 1)]
        events[0].text = "x\x00y"
        await store.append_events(events)
        await store.append_events(events)  # again: ignored
        got = await store.read_events("n")
    finally:
        await store.close()
    assert len(got) == size and got[0].text == "x\ufffdy" and got[-1].data == {"t": "a\ufffdb"}


async def test_url_settings_reach_the_server(pg_url: str) -> None:
    store = PostgresStore(f"{pg_url}&synchronous_commit=off")
    await store.open()

    async def show(conn: Any) -> Any:
        cur = await conn.execute("SELECT current_setting('synchronous_commit'), current_schema()")
        return await cur.fetchone()

    try:
        assert await store._db.run(show) == ("off", pg_url.rsplit("schema=", 1)[1])
    finally:
        await store.close()


async def test_large_documents_are_compressed_with_lz4_where_the_server_has_it(
    pg_url: str,
) -> None:
    import psycopg

    with psycopg.connect(Settings(pg_url).conninfo, autocommit=True) as conn:
        try:
            conn.execute("SET default_toast_compression = lz4")
            expected = "lz4"
        except psycopg.Error:
            expected = "pglz"  # a server built without lz4 keeps pglz, and the migration passes
    store = PostgresStore(pg_url)
    await store.open()
    big = {"payload": " ".join(f"word{i}" for i in range(5000))}  # compressible, over 2 kB
    await store.record_delivery(big)

    async def compression(conn: Any) -> Any:
        cur = await conn.execute("SELECT pg_column_compression(data) FROM deliveries")
        return await cur.fetchone()

    try:
        assert await store._db.run(compression) == (expected,)
        assert (await store.list_deliveries())[0]["payload"] == big["payload"]
    finally:
        await store.close()


async def test_prefix_lists_of_claims_and_state_are_ranges_of_the_primary_key(pg_url: str) -> None:
    """Every wake-up lists the slot claims among a delivery dedup claim per delivery: a range
    of the key's index, in code point order as on SQLite, never a scan of the table."""
    store = PostgresStore(pg_url)
    await store.open()
    keys = ["slot:b", "slot:a", "slot:\u00e9", "slot", "slots:x", "Slot:z", "delivery:1"]
    for key in keys:
        assert await store.claim(key, "me", ttl=60)
        await store.put_state(key, {"k": key})

    async def plans(conn: Any) -> list[str]:
        await conn.execute("SET enable_seqscan = off")
        found = []
        for table in ("claims", "state"):
            cur = await conn.execute(
                f"EXPLAIN SELECT key FROM {table} WHERE key >= %s AND key < %s ORDER BY key",
                ("slot:", "slot:\U0010ffff"),
            )
            found.append(" ".join(row[0] for row in await cur.fetchall()))
        cur = await conn.execute(
            "SELECT table_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND column_name = 'key' ORDER BY 1"
        )
        # in any database locale, the range is exactly the keys with the prefix
        assert await cur.fetchall() == [("claims", "C"), ("state", "C")]
        return found

    try:
        assert list(await store.list_claims("slot:")) == ["slot:a", "slot:b", "slot:\u00e9"]
        assert list(await store.list_state("slot:")) == ["slot:a", "slot:b", "slot:\u00e9"]
        assert list(await store.list_claims()) == sorted(keys)  # code point order: "S" < "d"
        for plan in await store._db.run(plans):
            assert "Index" in plan and "Seq Scan" not in plan, plan
    finally:
        await store.close()
