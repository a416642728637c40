"""Embedding agented in a synchronous Flask app with :class:`SyncAgented`.

    pip install flask && python examples/flask_app.py      # port 5000 (PORT= to change)
    curl -X POST 'http://127.0.0.1:5000/hello?who=flask'   # -> {"id": "01J..."}
    curl http://127.0.0.1:5000/runs/01J...                 # that run's status and log (404: none)

agented runs on an event loop in a background thread; Flask's request threads call it with
plain blocking calls. Open it once per process and close it at exit.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from agented_core import NotFoundError, SyncAgented

CONFIG = Path(__file__).with_name("agented.toml")


def create_app(config: Path = CONFIG, database: str | None = None) -> tuple[Flask, Any]:
    """The Flask app, and the context manager that keeps agented open (close it at exit)."""
    opened = SyncAgented.open(database, config=config)
    agented = opened.__enter__()
    app = Flask(__name__)

    @app.post("/hello")
    def hello() -> Any:
        execution = agented.run("hello", params={"message": request.args.get("who", "world")})
        return jsonify(id=execution.id), 202

    @app.get("/runs/<execution_id>")
    def show(execution_id: str) -> Any:
        try:
            execution = agented.get(execution_id)
            # the events iterator ends with the run; ?wait=0 returns at once instead
            if request.args.get("wait", "1") != "0":
                log = [f"{e.kind}: {e.text}" for e in agented.events(execution_id)]
                execution = agented.get(execution_id)
            else:
                log = []
        except NotFoundError:
            return jsonify(error="not_found", message=f"no run {execution_id!r}"), 404
        return jsonify(id=execution.id, status=execution.status.value, log=log)

    return app, opened


if __name__ == "__main__":
    flask_app, handle = create_app()
    atexit.register(handle.__exit__, None, None, None)
    flask_app.run(port=int(os.environ.get("PORT", "5000")), threaded=True)
