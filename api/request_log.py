"""One log line per request: request id, method, route, path, status, duration.

Logger ``api.requests`` at INFO, on stderr. With ``LOG_FORMAT=json`` each line
is a JSON object with the keys of the crawler's JSON lines (time, level,
logger, message) plus the request's fields; otherwise text. The request id is
the caller's ``X-Request-ID`` (Heroku's router sets one) when it looks like
one, else a new one; the response carries it back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, Response, g, request

logger = logging.getLogger("api.requests")

FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((name, getattr(record, name)) for name in FIELDS if hasattr(record, name))
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    if not logger.handlers:  # once per process, however many apps it creates
        handler = logging.StreamHandler()
        json_lines = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
        handler.setFormatter(JsonLines() if json_lines else logging.Formatter(
            "%(asctime)s [%(name)s] %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    fields = {"request_id": request_id, "method": request.method,
              "route": request.url_rule.rule if request.url_rule else None,
              "path": request.path, "status": response.status_code}
    started = g.get("request_started", time.perf_counter())

    # Logged when the server closes the response, so a streamed body counts in the duration.
    def log() -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        logger.info("%s %s %s %sms (request %s)", fields["method"], fields["path"], fields["status"], duration_ms,
                    request_id, extra={**fields, "duration_ms": duration_ms})

    response.call_on_close(log)
    return response
