#!/usr/bin/env python3
"""A stand-in for an agent CLI (codex, gemini, opencode) in fast tests.

It reads stdin to its end (as codex and opencode do: it would wait forever on an open pipe),
records its argv, stdin and environment as JSON to ``$FAKE_AGENT_RECORD`` (if set), prints the
transcript ``$FAKE_AGENT_TRANSCRIPT`` to stdout and the file ``$FAKE_AGENT_STDERR`` to stderr
(if set), then blocks forever if ``$FAKE_AGENT_HANG`` is set (a CLI that never gives up), else
exits with ``$FAKE_AGENT_EXIT`` (default 0).
"""

import hashlib
import json
import os
import signal
import sys

data = sys.stdin.buffer.read()
record = os.environ.get("FAKE_AGENT_RECORD")
if record:
    with open(record, "w") as f:
        json.dump(
            {
                "argv": sys.argv,
                "stdin_bytes": len(data),
                "stdin_sha256": hashlib.sha256(data).hexdigest(),
                "env": dict(os.environ),
                "cwd": os.getcwd(),
            },
            f,
        )
transcript = os.environ.get("FAKE_AGENT_TRANSCRIPT")
if transcript:
    with open(transcript, encoding="utf-8") as f:
        sys.stdout.write(f.read())
        sys.stdout.flush()
stderr = os.environ.get("FAKE_AGENT_STDERR")
if stderr:
    with open(stderr, encoding="utf-8") as f:
        sys.stderr.write(f.read())
        sys.stderr.flush()
if os.environ.get("FAKE_AGENT_HANG"):
    while True:
        signal.pause()
sys.exit(int(os.environ.get("FAKE_AGENT_EXIT", "0")))
