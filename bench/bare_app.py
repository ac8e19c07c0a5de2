"""The ceiling of the API throughput anchor (`bench/api.py`): Flask under gunicorn answering one JSON
route, with nothing of the platform: parse the body, answer 201 with a small JSON object."""
from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue


def create_app() -> Flask:
    app = Flask("careerloop-bench-bare")

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify({"status": "ok"})

    @app.post("/contacts/<contact_id>/touchpoints")
    def touchpoint(contact_id: str) -> ResponseReturnValue:
        body = request.get_json()
        return jsonify({"id": contact_id, "version": len(body)}), 201

    return app
