"""Schemathesis against ``/openapi.json`` of the reference server on a real socket.

Every documented operation gets generated requests (valid and invalid); no answer may be a 5xx,
and every answer must fit the schema: its status code, content type, headers and body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agented_core import Account, Bot, GitHubTrigger, ManualTrigger
from agented_core.config import AgentedSettings as CoreSettings
from agented_core.config import Config, WebhookSource
from agented_http import Settings
from conftest import FAKE_CLI
from http_support import KEY, SECRET, ThreadServer

AUTH = {"X-API-Key": KEY}
EXAMPLES = 40
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def reference_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadServer]:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRETS", SECRET)
    monkeypatch.setenv("ALERTS_SECRET", "alerts")
    bots = {
        "hello": Bot(
            name="hello",
            command=(FAKE_CLI, "say", "hi {params.who}"),
            triggers=(ManualTrigger(params=("who",)),),
            max_cost_usd_per_day=5.0,
        ),
        "review": Bot(
            name="review",
            command=(FAKE_CLI, "say", "{pr.title}"),
            triggers=(GitHubTrigger(event="pull_request"),),
        ),
    }
    config = Config(
        settings=CoreSettings(database=f"sqlite:///{tmp_path / 'agented.db'}"),
        webhooks={"alerts": WebhookSource(name="alerts", secret_env="ALERTS_SECRET")},
        accounts={"work": Account("work", "shell", max_cost_usd_per_month=20.0)},
        bots=bots,
    )
    with ThreadServer(config, Settings(api_keys=(KEY,)), {"entry_points": False}) as server:
        yield server


def test_no_operation_answers_5xx_or_breaks_its_schema(reference_server: ThreadServer) -> None:
    schema = schemathesis.openapi.from_url(
        f"{reference_server.url}/agented/openapi.json", headers=AUTH
    )
    base_url = f"{reference_server.url}/agented"
    failures: list[str] = []
    calls: dict[str, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 31  # every documented route

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            excluded = []
            if case.media_type == FORM and case.operation.path.endswith("dry-run"):
                # a form's `payload` field is JSON text (contentMediaType), which generated
                # strings are not: a 400 for them is right, not a rejected valid request
                excluded.append(positive_data_acceptance)
            case.call_and_validate(
                base_url=base_url, headers=AUTH, timeout=10, excluded_checks=excluded
            )
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) == len(operations) and sum(calls.values()) > 10 * len(operations), calls
