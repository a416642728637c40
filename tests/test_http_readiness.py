"""``GET /health/ready`` with a key carries the readiness facts: each CLI and the warnings."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from agented_core import Account, Bot, ManualTrigger, hookimpl
from agented_core.config import Config
from agented_core.providers import CLIProvider, Provider
from agented_core.providers.base import CommandRequest
from agented_http import Settings, create_app
from conftest import OpenAgented
from http_support import KEY

pytestmark = pytest.mark.anyio


class Probe(CLIProvider):
    name: ClassVar[str] = "probe"
    supported_versions: ClassVar[tuple[str, str] | None] = ("1.0.0", "2.0.0")

    def arguments(self, request: CommandRequest) -> list[str]:
        return []


class Gone(CLIProvider):
    name: ClassVar[str] = "gone"
    executable: ClassVar[str | None] = "agented-test-no-such-cli"
    install_command: ClassVar[str | None] = "npm install -g gone@1.0.0"

    def arguments(self, request: CommandRequest) -> list[str]:
        return []


class Both:
    def __init__(self, probe: str) -> None:
        self.probe = probe

    @hookimpl
    def agented_providers(self) -> list[Provider]:
        return [Probe(self.probe), Gone()]


async def test_readiness_details_name_each_cli_and_the_warnings(
    tmp_path: Path, open_agented: OpenAgented, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTED_TEST_UNSET_HOST_VAR", raising=False)
    script = tmp_path / "probe-cli"
    script.write_text("#!/bin/sh\necho 'probe 1.2.3'\n")
    script.chmod(0o755)
    config = Config(
        accounts={
            "work": Account("work", "shell", env_from={"TOKEN": "AGENTED_TEST_UNSET_HOST_VAR"})
        }
    )
    bot = Bot(
        name="b", provider="shell", account="work", command=("true",), triggers=(ManualTrigger(),)
    )
    async with open_agented([bot], config=config, plugins=[Both(str(script))]) as ag:
        app = create_app(ag, Settings(api_keys=(KEY,)))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            bare = (await client.get("/health/ready")).json()
            detailed = (await client.get("/health/ready", headers={"X-API-Key": KEY})).json()
    assert bare == {"status": "ready"}
    assert detailed["status"] == "ready"
    providers = detailed["providers"]
    assert providers["shell"] is None
    assert providers["probe"] == {
        "executable": str(script),
        "path": str(script),
        "version": "1.2.3",
        "supported": ["1.0.0", "2.0.0"],
        "problem": None,
    }
    assert providers["gone"]["path"] is None
    assert "npm install -g gone@1.0.0" in providers["gone"]["problem"]
    assert {
        "bot": None,
        "field": "accounts.work.env_from.TOKEN",
        "message": "host variable 'AGENTED_TEST_UNSET_HOST_VAR' is unset, so TOKEN cannot be set "
        "for account 'work'",
    } in detailed["warnings"]
