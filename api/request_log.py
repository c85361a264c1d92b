"""Each request timed once: one log line and its Prometheus samples (api/metrics.py).

Logger ``api.requests`` at INFO, on stderr, in the format of every process
(``LOG_FORMAT``, migrations/logs.py): request id, method, route, path, status,
duration. The request id is the caller's ``X-Request-ID`` (Heroku's router sets
one) when it looks like one, else a new one; the response carries it back.
Timing hangs on Flask's request_started / request_finished signals, not on
before/after_request hooks, so no hook's order or early answer can skip it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, current_app, g, request, request_finished, request_started

from api import metrics
from migrations import logs

logger = logging.getLogger("api.requests")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def init_app(app: Flask) -> None:
    if not logger.handlers:  # once per process, however many apps it creates
        logger.addHandler(logs.handler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    request_started.connect(_start, app)
    request_finished.connect(_finish, app)


def _start(_app, **_extra) -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _finish(_app, response: Response, **_extra) -> None:
    started, request_id = g.get("request_started", time.perf_counter()), g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    fields = {"request_id": request_id, "method": request.method,
              "route": request.url_rule.rule if request.url_rule else None,
              "path": request.path, "status": response.status_code}
    metrics.sample_pool(current_app)

    def record() -> None:
        seconds = time.perf_counter() - started
        duration_ms = round(seconds * 1000, 1)
        logger.info("%s %s %s %sms (request %s)", fields["method"], fields["path"], fields["status"], duration_ms,
                    request_id, extra={**fields, "duration_ms": duration_ms})
        metrics.observe(fields["method"], fields["route"], fields["status"], seconds)

    if response.is_streamed:  # when the server closes it, so the whole body is timed
        response.call_on_close(record)
    else:
        record()
