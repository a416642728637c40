#!/usr/bin/env python3
"""A stand-in for the ``claude`` executable in fast tests.

It records its argv, stdin and environment as JSON to ``$FAKE_CLAUDE_RECORD`` (if set), prints
the transcript ``$FAKE_CLAUDE_TRANSCRIPT`` (if set) to stdout, ``$FAKE_CLAUDE_STDERR`` to stderr,
and exits with ``$FAKE_CLAUDE_EXIT`` (default 0).
"""

import hashlib
import json
import os
import sys

data = sys.stdin.buffer.read()
record = os.environ.get("FAKE_CLAUDE_RECORD")
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
transcript = os.environ.get("FAKE_CLAUDE_TRANSCRIPT")
if transcript:
    with open(transcript, encoding="utf-8") as f:
        sys.stdout.write(f.read())
        sys.stdout.flush()
if os.environ.get("FAKE_CLAUDE_STDERR"):
    print(os.environ["FAKE_CLAUDE_STDERR"], file=sys.stderr, flush=True)
sys.exit(int(os.environ.get("FAKE_CLAUDE_EXIT", "0")))
