"""Sending one notification to a bot's channels: Slack and the signed callback, with retries.

Each channel is tried ``1 + retries`` times, waiting ``backoff`` seconds, then twice that, and
so on (or what a 429's ``Retry-After`` asks, up to a minute), on a network error, a timeout,
408, 429 or a 5xx; any other answer outside 2xx is final. Every channel is tried whatever the
others did; what failed is raised at the end as one :class:`NotifyError` (which the core then
records on the execution as an ``error`` event). Messages never hold a webhook URL or a secret.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import httpx
from attrs import frozen

from ._settings import BotNotify, Delivery
from ._signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["DELIVERY_HEADER", "EVENT_HEADER", "Message", "NotifyError", "send"]

EVENT_HEADER = "X-Agented-Event"
DELIVERY_HEADER = "X-Agented-Delivery"
MAX_RETRY_AFTER = 60.0


class NotifyError(Exception):
    """A notification could not be delivered to one or more channels (each named)."""


@frozen
class Message:
    """What is sent: ``event`` (``execution.finished`` or ``alert.<kind>``), a line of text
    for people, a link, and the JSON the callback carries."""

    event: str
    text: str
    url: str | None
    payload: Mapping[str, Any]


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _wait_for(response: httpx.Response | None, attempt: int, delivery: Delivery) -> float:
    if response is not None and response.status_code == 429:
        after = response.headers.get("Retry-After", "")
        if after.isdigit():
            return min(float(after), MAX_RETRY_AFTER)
    return float(delivery.backoff * 2.0**attempt)


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str] | Any,
    delivery: Delivery,
    name: str,
) -> None:
    """POST with retries; raises :class:`NotifyError` naming ``name`` (never ``url``)."""
    last = ""
    for attempt in range(delivery.retries + 1):
        response: httpx.Response | None = None
        try:
            response = await client.post(
                url, content=body, headers=headers() if callable(headers) else headers
            )
        except httpx.TimeoutException:
            last = f"timed out after {delivery.timeout:g} s"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {str(exc).replace(url, '<url>')}"
        else:
            if 200 <= response.status_code < 300:
                return
            last = f"answered {response.status_code} {response.text[:200]!r}"
            if not _retryable(response.status_code):
                break
        if attempt < delivery.retries:
            await anyio.sleep(_wait_for(response, attempt, delivery))
    tries = attempt + 1
    raise NotifyError(f"{name} {last} ({tries} attempt{'s' if tries > 1 else ''})")


def _slack_body(message: Message) -> bytes:
    text = message.text
    if message.url:
        text += f" <{message.url}|open>"
    return json.dumps({"text": text}).encode()


async def send(
    message: Message,
    notify: BotNotify,
    delivery: Delivery,
    *,
    env: Mapping[str, str] | None = None,
) -> None:
    """Deliver ``message`` to every channel of ``notify``; :class:`NotifyError` if any failed."""
    env = os.environ if env is None else env
    failures: list[str] = []
    async with httpx.AsyncClient(timeout=delivery.timeout, follow_redirects=False) as client:
        if notify.slack_webhook_env:
            url = env.get(notify.slack_webhook_env, "")
            if not url:
                failures.append(f"Slack: {notify.slack_webhook_env} is not set")
            else:
                try:
                    await _post(
                        client,
                        url,
                        _slack_body(message),
                        {"Content-Type": "application/json"},
                        delivery,
                        f"Slack webhook ({notify.slack_webhook_env})",
                    )
                except NotifyError as exc:
                    failures.append(str(exc))
        if notify.callback_url and notify.callback_secret_env:
            secret = env.get(notify.callback_secret_env, "")
            if not secret:
                failures.append(f"callback: {notify.callback_secret_env} is not set")
            else:
                body = json.dumps(message.payload, ensure_ascii=False).encode()
                delivery_id = uuid.uuid4().hex  # the same on every retry: receivers dedupe on it

                def headers() -> dict[str, str]:
                    stamp = int(time.time())  # fresh per try, so a late retry is not refused
                    return {
                        "Content-Type": "application/json",
                        EVENT_HEADER: message.event,
                        DELIVERY_HEADER: delivery_id,
                        TIMESTAMP_HEADER: str(stamp),
                        SIGNATURE_HEADER: sign(secret, stamp, body),
                    }

                try:
                    await _post(
                        client,
                        notify.callback_url,
                        body,
                        headers,
                        delivery,
                        f"callback {httpx.URL(notify.callback_url).host}",
                    )
                except NotifyError as exc:
                    failures.append(str(exc))
    if failures:
        raise NotifyError("notification not delivered: " + "; ".join(failures))
