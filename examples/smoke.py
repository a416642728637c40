"""Check a running agented server end to end: health, a run through the API, its live events.

    AGENTED_API_KEY=... python3 examples/smoke.py [http://127.0.0.1:8000/agented] [BOT]

Waits (up to 30 s) for ``/health``, starts BOT (default ``hello``, with ``message=world``),
follows its events over SSE until the stream ends, and exits 0 when the run succeeded. Standard
library only, so it runs wherever Python does.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request


def request(url: str, key: str, body: dict[str, object] | None = None) -> urllib.request.Request:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    return urllib.request.Request(url, data=data, headers=headers)


def wait_for_health(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"no answer from {base}/health within {timeout:g} s")
        time.sleep(0.2)


def main() -> int:
    base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/agented").rstrip("/")
    bot = sys.argv[2] if len(sys.argv) > 2 else "hello"
    key = os.environ.get("AGENTED_API_KEY") or os.environ.get("AGENTED_API_KEYS", "").split(",")[0]
    wait_for_health(base)
    with urllib.request.urlopen(
        request(f"{base}/bots/{bot}/runs", key, {"params": {"message": "world"}}), timeout=10
    ) as response:
        started = json.load(response)
    print(f"started {started['execution_id']}", flush=True)
    status = None
    events = f"{base}/executions/{started['execution_id']}/events"
    with urllib.request.urlopen(request(events, key), timeout=60) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            text = event["text"] if event["text"] is not None else json.dumps(event["data"])
            print(f"{event['seq']:>4} {event['kind']:<11} {text}", flush=True)
            if event["kind"] == "status":
                status = event["data"]["status"]
    print(f"status: {status}")
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
