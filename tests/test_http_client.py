"""agented_http's client against a real server: uvicorn on 127.0.0.1, a real socket each test.

Every method of both flavours, the error mapping, following a live run over SSE (and resuming
after the server drops the connection or restarts, with no gap and no repeat), pagination, the
docs' example, and no API key in a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agented_core import (
    Agented,
    Bot,
    ConfigError,
    ConflictError,
    Event,
    Execution,
    GitHubTrigger,
    ManualTrigger,
    NotFoundError,
    Param,
    Status,
    TriggerKind,
    to_data,
)
from agented_http import (
    AgentedHTTPError,
    AsyncClient,
    BadRequestError,
    BotInfo,
    Client,
    HTTPConflictError,
    HTTPNotFoundError,
    Settings,
    UnauthorizedError,
    UnreachableError,
    create_app,
)
from agented_http.client_sse import Follow, FrameDecoder
from agented_http.sse import encode, resync
from conftest import FAKE_CLI, FIXTURES_DIR, OpenAgented, shell_bot
from http_support import KEY, SECRET, bind, serving, sign, wait_until

pytestmark = pytest.mark.anyio

DOCS = Path(__file__).parent.parent / "docs"
PR_OPENED = (FIXTURES_DIR / "webhooks" / "pull_request.opened.json").read_bytes()


@pytest.fixture
def lines_file(tmp_path: Path) -> Path:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1, 31)))
    return path


@pytest.fixture(autouse=True)
def github_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", SECRET)


def bots(lines: Path) -> list[Bot]:
    return [
        shell_bot("hello", "say", "hello {params.who}", params=[Param("who", default="you")]),
        shell_bot("counter", "lines", str(lines), "0.05"),
        shell_bot("sleeper", "sleep", "30"),
        shell_bot(
            "deploy",
            "say",
            "{params.message} {params.level}",
            env={"DEPLOY_TOKEN": "not-shown"},
            triggers=(
                ManualTrigger(
                    params=(
                        Param("message"),
                        Param("level", "choice", choices=("low", "high"), default="low"),
                    )
                ),
            ),
        ),
        Bot(
            name="review",
            provider="shell",
            command=(FAKE_CLI, "say", "reviewed"),
            prompt="Review PR #{pr.number}: {pr.title}",
            triggers=(GitHubTrigger(event="pull_request", actions=("opened",)),),
        ),
    ]


Wrap = Callable[[ASGIApp], ASGIApp]


@asynccontextmanager
async def server(
    open_agented: OpenAgented, lines: Path, wrap: Wrap | None = None
) -> AsyncIterator[tuple[Agented, str]]:
    """An Agented with the test bots, its app served on 127.0.0.1; yields it and the URL."""
    async with open_agented(bots(lines)) as ag:
        app = create_app(ag, Settings(api_keys=(KEY,), retry_ms=50, heartbeat=1.0))
        async with serving(wrap(app) if wrap else app) as url:
            yield ag, url


async def stored(ag: Agented, execution_id: str) -> list[dict[str, Any]]:
    return [to_data(e) for e in await ag.store.read_events(execution_id)]


def datas(events: list[Event]) -> list[dict[str, Any]]:
    return [to_data(e) for e in events]


# the async client, method by method


async def test_every_method_of_the_async_client(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with (
        server(open_agented, lines_file) as (ag, url),
        AsyncClient(url, api_key=KEY, timeout=20) as client,
    ):
        assert await client.health() == {"status": "ok"}
        ready = await client.ready()
        assert ready["status"] == "ready" and ready["checks"] == {"store": "ok"}

        listed = await client.bots()
        assert [b.name for b in listed] == sorted(b.name for b in bots(lines_file))
        deploy = await client.bot("deploy")
        assert isinstance(deploy, BotInfo) and deploy == listed[1]
        assert deploy.bot.env == {"DEPLOY_TOKEN": "[redacted]"}
        assert deploy.params == ag.bot("deploy").param_specs and deploy.next_fire is None
        assert deploy.bot.triggers == ag.bot("deploy").triggers

        execution_id = await client.run("deploy", {"message": "ship"})
        done = await ag.wait(execution_id, timeout=20)
        assert done.status is Status.SUCCEEDED
        got = await client.get(execution_id)
        assert isinstance(got, Execution) and to_data(got) == to_data(done)
        assert got.params == {"message": "ship", "level": "low"}

        events = await client.events(execution_id)
        assert all(isinstance(e, Event) for e in events)
        assert datas(events) == await stored(ag, execution_id)
        assert datas(await client.events(execution_id, after=2)) == datas(events)[2:]
        assert "ship low" in [e.text for e in events]
        assert datas([e async for e in client.follow(execution_id)]) == datas(events)

        page = await client.list(bot="deploy")
        assert [e.id for e in page.items] == [execution_id] and page.next_cursor is None
        assert page.items[0].context == {}  # a listing leaves the trigger context out
        assert (await client.list(status=Status.FAILED)).items == []
        assert [e.id for e in (await client.list(status=["failed", "succeeded"])).items] == [
            execution_id
        ]
        assert [e.id for e in (await client.list(prefix=execution_id[:20])).items] == [execution_id]
        assert (await client.list(trigger=TriggerKind.RERUN)).items == []
        assert [e.id for e in (await client.list(trigger="api")).items] == [execution_id]

        rerun_id = await client.rerun(execution_id)
        assert rerun_id != execution_id
        assert (await ag.wait(rerun_id, timeout=20)).rerun_of == execution_id

        sleeper = await client.run("sleeper")
        await wait_until(lambda: _status_is(ag, sleeper, Status.RUNNING))
        assert (await client.pause(sleeper)).id == sleeper
        await wait_until(lambda: _status_is(ag, sleeper, Status.PAUSED))
        assert (await client.resume(sleeper)).id == sleeper
        await wait_until(lambda: _status_is(ag, sleeper, Status.RUNNING))
        await client.cancel(sleeper)
        assert (await ag.wait(sleeper, timeout=20)).status is Status.CANCELLED

        token = await client.stream_token(execution_id)
        assert token.expires_at > datetime.now(UTC)
        async with httpx.AsyncClient(base_url=url) as keyless:
            by_token = await keyless.get(
                f"/executions/{execution_id}/events", params={"token": token.token}
            )
        assert by_token.status_code == 200 and "event: status" in by_token.text

        payload = json.loads(PR_OPENED)
        dry = await client.dry_run("pull_request", payload)
        assert [m["bot"] for m in dry.matches] == ["review"]
        assert dry.matches[0]["prompt"].startswith(f"Review PR #{payload['number']}")
        assert await client.deliveries() == []
        async with httpx.AsyncClient(base_url=url) as github:
            delivered = await github.post(
                "/webhooks/github",
                content=PR_OPENED,
                headers={
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": "d-1",
                    "X-Hub-Signature-256": sign(PR_OPENED),
                    "Content-Type": "application/json",
                },
            )
        assert delivered.status_code == 202
        (delivery,) = await client.deliveries(limit=5)
        assert delivery["delivery"] == "d-1"
        assert delivery["execution_ids"] == delivered.json()["execution_ids"]


async def _status_is(ag: Agented, execution_id: str, status: Status) -> bool:
    return (await ag.get(execution_id)).status is status


# errors


async def test_error_answers_are_the_cores_exceptions_with_status_and_body(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with (
        server(open_agented, lines_file) as (ag, url),
        AsyncClient(url, api_key=KEY) as client,
        AsyncClient(url, api_key="wrong-key") as wrong,
        AsyncClient(url) as keyless,
    ):
        with pytest.raises(UnauthorizedError) as unauthorized:
            await wrong.bots()
        assert unauthorized.value.status_code == 401
        assert unauthorized.value.code == "unauthorized"
        assert str(unauthorized.value) == "the API key is not valid"
        with pytest.raises(UnauthorizedError, match="an API key is needed"):
            await keyless.get("01ANYTHING")
        assert await keyless.health() == {"status": "ok"}  # public without a key

        with pytest.raises(HTTPNotFoundError) as missing:
            await client.get("01NOSUCHEXECUTION")
        assert isinstance(missing.value, NotFoundError)
        assert missing.value.status_code == 404 and missing.value.code == "not_found"
        assert missing.value.body == {"error": "not_found", "message": str(missing.value)}
        with pytest.raises(NotFoundError, match="nope"):
            await client.run("nope")
        with pytest.raises(NotFoundError):
            await client.events("01NOSUCHEXECUTION")
        with pytest.raises(NotFoundError):
            async for _ in client.follow("01NOSUCHEXECUTION"):
                pass

        done = await ag.wait(await client.run("hello"), timeout=20)
        with pytest.raises(HTTPConflictError) as conflict:
            await client.resume(done.id)
        assert isinstance(conflict.value, ConflictError) and conflict.value.status_code == 409
        assert conflict.value.code == "conflict" and str(conflict.value)

        with pytest.raises(BadRequestError) as bad:
            await client.run("deploy", {"level": "mid"})
        assert isinstance(bad.value, ConfigError) and bad.value.status_code == 400
        assert "missing required parameter 'message'" in str(bad.value)
        assert "value must be one of 'low', 'high'; got 'mid'" in str(bad.value)
        assert [p.message for p in bad.value.problems] == [str(bad.value)]
        with pytest.raises(BadRequestError, match="X-GitHub-Event"):
            await client.dry_run("", {})
        with pytest.raises(BadRequestError, match=r"after must be at least 0 .*, got -1"):
            await client.events(done.id, after=-1)
        assert [e.id for e in (await client.list()).items] == [done.id]  # nothing changed

    port = _closed_port()
    async with AsyncClient(f"http://127.0.0.1:{port}", api_key=KEY, timeout=2) as nobody:
        with pytest.raises(UnreachableError, match=f"cannot reach http://127.0.0.1:{port}"):
            await nobody.health()
        with pytest.raises(UnreachableError):
            async for _ in nobody.follow("01ANY", reconnect_for=0.2):
                pass


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unknown_status_is_refused_before_it_is_sent() -> None:
    async with AsyncClient("http://127.0.0.1:9", api_key=KEY) as client:
        with pytest.raises(ValueError, match="nonsense"):
            await client.list(status="nonsense")


async def test_an_unknown_trigger_is_refused_before_it_is_sent() -> None:
    async with AsyncClient("http://127.0.0.1:9", api_key=KEY) as client:
        with pytest.raises(ValueError, match="cron"):
            await client.list(trigger="cron")


# following live runs


async def test_following_a_live_run_gives_exactly_the_stored_events(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with (
        server(open_agented, lines_file) as (ag, url),
        AsyncClient(url, api_key=KEY) as client,
    ):
        execution_id = await client.run("counter")
        followed = [e async for e in client.follow(execution_id)]
        # the follower may see the final event before the store holds it: wait for the end
        done = await ag.wait(execution_id, timeout=20)
        everything = await stored(ag, execution_id)
        later = [e async for e in client.follow(execution_id, after=25)]
        nothing = [e async for e in client.follow(execution_id, after=done.last_seq)]
    assert done.status is Status.SUCCEEDED
    assert datas(followed) == everything
    assert [e.seq for e in followed] == list(range(1, done.last_seq + 1))
    assert [e.text for e in followed if e.kind == "text"] == [f"line {i}" for i in range(1, 31)]
    assert datas(later) == everything[25:]
    assert nothing == []  # the server's 204: nothing after the last seq


class Dropper:
    """ASGI middleware that cuts the first ``times`` SSE responses after ``after`` body chunks,
    the way a crashing worker or a proxy timeout does (no end of the chunked body)."""

    def __init__(self, app: ASGIApp, after: int, times: int) -> None:
        self.app = app
        self.after = after
        self.left = times
        self.streams = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/events"):
            await self.app(scope, receive, send)
            return
        self.streams += 1
        if self.left <= 0:
            await self.app(scope, receive, send)
            return
        self.left -= 1
        sent = 0

        async def cutting(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body" and message.get("body"):
                sent += 1
                if sent > self.after:
                    raise ConnectionResetError("dropped by the test")
            await send(message)

        await self.app(scope, receive, cutting)


async def test_a_dropped_connection_is_resumed_without_gaps_or_repeats(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    droppers: list[Dropper] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        droppers.append(Dropper(app, after=6, times=3))
        return droppers[0]

    async with (
        server(open_agented, lines_file, wrap) as (ag, url),
        AsyncClient(url, api_key=KEY) as client,
    ):
        execution_id = await client.run("counter")
        followed = [e async for e in client.follow(execution_id)]
        await ag.wait(execution_id, timeout=20)  # its final event may still be on its way in
        everything = await stored(ag, execution_id)
    assert droppers[0].streams == 4  # three cut streams, then one to the end
    assert datas(followed) == everything
    assert followed[-1].data["status"] == "succeeded"


async def test_a_restarted_server_is_followed_on_where_it_left_off(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    """The server goes away mid-stream and comes back on the same port; the run goes on."""
    streams = 0

    def counting(app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            nonlocal streams
            if scope["type"] == "http" and scope["path"].endswith("/events"):
                streams += 1
            await app(scope, receive, send)

        return counted

    async with open_agented(bots(lines_file)) as ag:
        app = counting(create_app(ag, Settings(api_keys=(KEY,), retry_ms=50)))
        sock = bind()
        port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        got: list[Event] = []
        finished = anyio.Event()
        async with AsyncClient(url, api_key=KEY) as client, anyio.create_task_group() as tg:
            first = await _start_server(tg, app, sock)
            execution_id = await client.run("counter")

            async def follow() -> None:
                async for event in client.follow(execution_id):
                    got.append(event)
                finished.set()

            tg.start_soon(follow)
            await wait_until(lambda: len(got) >= 5)
            first.should_exit = True
            await wait_until(lambda: first.ended, timeout=20)
            assert not finished.is_set()
            second = await _start_server(tg, app, _bind_port(port))
            with anyio.fail_after(30):
                await finished.wait()
            second.should_exit = True
        everything = await stored(ag, execution_id)
    assert streams >= 2
    assert datas(got) == everything
    assert got[-1].data["status"] == "succeeded"


class _Server(uvicorn.Server):
    ended = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        finally:
            self.ended = True


async def _start_server(tg: anyio.abc.TaskGroup, app: ASGIApp, sock: socket.socket) -> _Server:
    config = uvicorn.Config(
        app, lifespan="off", log_level="critical", timeout_graceful_shutdown=0.2
    )
    server = _Server(config)
    tg.start_soon(server.serve, [sock])
    await wait_until(lambda: server.started)
    return server


def _bind_port(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


# pagination


async def test_pages_walk_the_whole_listing_newest_first(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    async with (
        server(open_agented, lines_file) as (ag, url),
        AsyncClient(url, api_key=KEY) as client,
    ):
        ids = [await client.run("hello", {"who": str(i)}) for i in range(5)]
        for execution_id in ids:
            await ag.wait(execution_id, timeout=20)
        pages = [page async for page in client.pages(bot="hello", limit=2)]
        from_second = [page async for page in client.pages(limit=2, cursor=pages[0].next_cursor)]
        with_prefix = [page async for page in client.pages(prefix=ids[0][:10], limit=1)]
        one = [page async for page in client.pages(bot="deploy")]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [e.id for p in pages for e in p.items] == ids[::-1]
    assert pages[-1].next_cursor is None and pages[0].next_cursor == ids[-2]
    assert [e.id for p in from_second for e in p.items] == ids[::-1][2:]
    assert [e.id for p in with_prefix for e in p.items] == [
        i for i in ids[::-1] if i.startswith(ids[0][:10])
    ]
    assert len(one) == 1 and one[0].items == []


# the sync client


async def test_the_sync_client_does_the_same_without_an_event_loop(
    open_agented: OpenAgented, lines_file: Path
) -> None:
    drops: list[Dropper] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        drops.append(Dropper(app, after=4, times=1))
        return drops[0]

    async with server(open_agented, lines_file, wrap) as (ag, url):

        def scenario() -> tuple[str, list[Event], list[str]]:
            with Client(url, api_key=KEY, timeout=20) as client:
                assert client.health() == {"status": "ok"}
                assert client.ready()["status"] == "ready"
                assert [b.name for b in client.bots()][:2] == ["counter", "deploy"]
                assert client.bot("deploy").bot.env == {"DEPLOY_TOKEN": "[redacted]"}
                execution_id = client.run("counter")
                followed = list(client.follow(execution_id))
                assert datas(client.events(execution_id)) == datas(followed)
                assert client.get(execution_id).status is Status.SUCCEEDED
                rerun = client.rerun(execution_id)
                sleeper = client.run("sleeper")
                with pytest.raises(NotFoundError):
                    client.get("01NOSUCH")
                with pytest.raises(ConfigError, match="missing required parameter"):
                    client.run("deploy")
                _until(lambda: client.get(sleeper).status is Status.RUNNING)
                client.pause(sleeper)
                _until(lambda: client.get(sleeper).status is Status.PAUSED)
                client.resume(sleeper)
                assert client.cancel(sleeper).id == sleeper
                pages = list(client.pages(limit=1))
                token = client.stream_token(execution_id)
                assert token.token
                dry = client.dry_run("pull_request", json.loads(PR_OPENED))
                assert [m["bot"] for m in dry.matches] == ["review"]
                assert client.deliveries() == []
                return execution_id, followed, [p.items[0].id for p in pages] + [rerun]

        execution_id, followed, paged = await anyio.to_thread.run_sync(scenario)
        everything = await stored(ag, execution_id)
    assert datas(followed) == everything
    assert drops[0].streams == 2  # the sync follower resumed the cut stream too
    assert len(paged) == 4 and paged[-1] in paged[:3]


def _until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait (blocking) until ``predicate()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


# no secret in a repr or a log


async def test_the_key_is_in_no_repr_and_no_log_line(
    open_agented: OpenAgented, lines_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        server(open_agented, lines_file) as (_, url),
        AsyncClient(url, api_key=KEY) as client,
    ):
        execution_id = await client.run("hello")
        [e async for e in client.follow(execution_id)]
        with pytest.raises(NotFoundError) as missing:
            await client.get("01NOSUCH")
        shown = [repr(client), repr(client._http), repr(client._http.headers), repr(missing.value)]
    with Client(url, api_key=KEY) as sync_client:
        shown.append(repr(sync_client))
    assert all(KEY not in text for text in shown), shown
    assert caplog.records, "httpx logged nothing: the check below would prove nothing"
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert all(KEY not in repr(record.args) for record in caplog.records)


# the SSE reading, as a protocol

_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(
    texts=st.lists(_texts, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    crlf=st.booleans(),
)
def test_frames_survive_any_chunking_and_any_text(
    texts: list[str], cuts: list[int], crlf: bool
) -> None:
    """Events with any text (U+2028, U+0085, CR ...) cut anywhere come out whole, once."""
    now = datetime.now(UTC)
    events = [Event("01X", i, now, 1, "text", text=t) for i, t in enumerate(texts, start=1)]
    stream = b"retry: 50\n\n: ping\n\n" + resync(1) + b"".join(encode(e) for e in events)
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    decoder = FrameDecoder()
    state = Follow("01X")
    out: list[Event] = []
    edges = sorted({min(c, len(stream)) for c in cuts})
    for start, end in zip([0, *edges], [*edges, len(stream)], strict=True):
        for frame in decoder.feed(stream[start:end]):
            event = state.accept(frame)
            if event is not None:
                out.append(event)
    assert datas(out) == datas(events)
    assert decoder.retry_ms == 50 and state.last == len(events)
    again = Follow("01X", last=len(events) - 1)  # a resumed follower skips what it has
    replayed = [again.accept(f) for f in FrameDecoder().feed(stream)]
    assert datas([e for e in replayed if e is not None]) == datas(events[-1:])


def test_a_resync_is_announced_once_with_the_first_available_seq() -> None:
    state = Follow("01X", last=2)
    (frame,) = FrameDecoder().feed(resync(5))
    announced = state.accept(frame)
    assert announced is not None and announced.kind == "resync"
    assert announced.seq == 4 and announced.data == {"first_available_seq": 5}
    assert state.last == 4 and state.accept(frame) is None


def test_an_error_body_that_is_not_json_keeps_the_status() -> None:
    from agented_http.client_errors import error_for

    error = error_for(httpx.Response(502, text="<html>bad gateway</html>"))
    assert type(error) is AgentedHTTPError and error.status_code == 502
    assert str(error) == "Bad Gateway" and error.body is None


# the docs' example


def _example(heading: str) -> str:
    text = (DOCS / "http-api.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, f"no Python example under {heading!r}"
    return "\n".join(blocks)


async def test_the_docs_example_of_a_client_for_hosts_runs(
    open_agented: OpenAgented, lines_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _example("A client for hosts")
    namespace: dict[str, Any] = {"__name__": "docs_example"}  # not "__main__": it runs below
    exec(compile(code, "http-api.md", "exec"), namespace)
    main: Callable[[str, str], Awaitable[None]] = namespace["main"]
    report: Callable[[str, str], None] = namespace["report"]
    async with server(open_agented, lines_file) as (ag, url):
        await main(url, KEY)
        await anyio.to_thread.run_sync(report, url, KEY)
        (execution,) = (await ag.list(bot="hello"))[0]
    out = capsys.readouterr().out
    assert "text hello world" in out
    assert f"{execution.id} succeeded" in out


def test_the_command_line_says_when_the_server_cannot_be_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agented_cli import run_cli

    url = f"http://127.0.0.1:{_closed_port()}/agented"
    assert run_cli(["executions", "--url", url]) == 2
    assert run_cli(["show", "01ANY", "--url", url]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2
    assert all(line.startswith(f"error: cannot reach {url}: [Errno 111]") for line in errors)
