"""The fake CLI of the benchmarks: prints realistic Claude stream-json lines.

python _emitter.py flood N        N lines as fast as it can
python _emitter.py paced N RATE   N lines at RATE lines/s, each stamped with time.time()
"""

import json
import sys
import time

TEXT = (
    "I looked at the diff. The change to the retry loop is right, but the timeout is read once "
    "outside the loop, so a config reload does not reach it. Consider reading it per attempt. "
    "Also the new test sleeps for a second; waiting on the event would be faster and less flaky."
)


def line(n: int, stamp: float | None = None) -> str:
    message = {
        "type": "assistant",
        "message": {
            "id": f"msg_{n:08d}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": None,
            "usage": {"input_tokens": 12, "output_tokens": 5},
        },
        "session_id": "6b0f0c8e-3d4f-4b8a-9a57-0c5e3f2f9d11",
    }
    if stamp is not None:
        message["stamp"] = stamp
    return json.dumps(message)


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    if mode == "flood":
        text = line(0)
        chunk = (text + "\n") * 1000
        for _ in range(n // 1000):
            out.write(chunk)
        out.write((text + "\n") * (n % 1000))
    else:
        rate = float(sys.argv[3])
        start = time.perf_counter()
        for i in range(n):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            out.write(line(i, time.time()) + "\n")
            out.flush()
    out.flush()


if __name__ == "__main__":
    main()
