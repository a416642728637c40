#!/usr/bin/env python3
"""toy-agent: a pretend coding agent CLI, for the "Writing a provider plugin" walkthrough.

    toy-agent --json [--model NAME] [--shout]      (the prompt comes on stdin)

It prints one JSON object a line:

    {"type": "start", "session": "toy-1", "model": "toy-1b"}
    {"type": "say", "text": "..."}
    {"type": "tool", "id": "t1", "name": "shout", "input": {"text": "..."}}
    {"type": "tool_done", "id": "t1", "ok": true, "output": "..."}
    {"type": "usage", "in": 12, "out": 5, "cost": 0.0001}
    {"type": "done", "ok": true, "text": "...", "turns": 1}

A prompt with "busy" in it gets {"type": "error", "code": 429, "message": "rate limit reached,
try again in 30s"} and exit code 2; "crash" exits with code 3 and a message on stderr.
"""

import json
import sys


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str]) -> int:
    if "--json" not in argv:
        print("toy-agent: only --json output is implemented", file=sys.stderr)
        return 64
    model = argv[argv.index("--model") + 1] if "--model" in argv else "toy-1b"
    prompt = sys.stdin.read()
    emit(type="start", session="toy-session-1", model=model)
    if "crash" in prompt:
        print("toy-agent: segmentation fault (pretend)", file=sys.stderr)
        return 3
    if "busy" in prompt:
        emit(type="error", code=429, message="rate limit reached, try again in 30s")
        return 2
    words = len(prompt.split())
    answer = f"you said {words} word(s)"
    if "--shout" in argv:
        emit(type="tool", id="t1", name="shout", input={"text": answer})
        answer = answer.upper()
        emit(type="tool_done", id="t1", ok=True, output=answer)
    emit(type="say", text=answer)
    emit(type="usage", **{"in": words, "out": 5, "cost": round(words * 1e-6 + 5e-6, 9)})
    emit(type="done", ok=True, text=answer, turns=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
