"""Each request timed once, for its log line (logger ``api.requests``) and its Prometheus samples, on Flask's
request signals so that no hook can skip it; ``GET /metrics`` adds up every worker's samples (docs/api.md)."""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from datetime import datetime, timezone

import psycopg2
from flask import Blueprint, Flask, Response, current_app, g, request, request_finished, request_started
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from api.crawls import last_runs
from api.db import pool_usage
from api.errors import ApiError
from api.schemas.crawls import CRAWL_STATUSES
from migrations import DatabaseUnavailable, logs

bp = Blueprint("metrics", __name__)
logger = logging.getLogger("api.requests")

# A request's id: the caller's X-Request-ID (Heroku's router sets one) when it looks like one; sent back.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
OUTCOMES = ("inserted", "updated", "unchanged", "removed", "rejected", "duplicates")  # crawl_runs' counts
PROGRESS = ("pages", "items", "staged", "rejected", "expected", "rate")  # a running crawl's (0017_dashboard.sql)

# Not in the default registry: a scrape collects them itself, from this process or from every worker's files.
_process = CollectorRegistry()
REQUESTS = Counter("api_requests", "HTTP requests answered.", ["method", "route", "status"], registry=_process)
LATENCY = Histogram("api_request_duration_seconds", "Time to answer, body streaming included.",
                    ["method", "route", "status"], registry=_process)
POOL = Gauge("api_db_pool_connections", "Database connections of the API's pools.", ["state"],
             multiprocess_mode="livesum", registry=_process)
POOL_MAX = Gauge("api_db_pool_max_connections", "Most connections the API's pools may open.",
                 multiprocess_mode="livesum", registry=_process)


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
    sample_pool(current_app)

    def record() -> None:
        seconds = time.perf_counter() - started
        duration_ms = round(seconds * 1000, 1)
        logger.info("%s %s %s %sms (request %s)", fields["method"], fields["path"], fields["status"], duration_ms,
                    request_id, extra={**fields, "duration_ms": duration_ms})
        labels = (fields["method"] if fields["method"] in METHODS else "other", fields["route"] or "<unmatched>",
                  str(fields["status"]))
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(seconds)

    if response.is_streamed:  # when the server closes it, so the whole body is timed
        response.call_on_close(record)
    else:
        record()


def sample_pool(app) -> None:
    if usage := pool_usage(app):
        POOL.labels("in_use").set(usage["in_use"])
        POOL.labels("idle").set(usage["idle"])
        POOL_MAX.set(usage["max"])


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        raise ApiError(404, "metrics are off: set METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "missing or wrong metrics token", code="invalid_token",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    crawls = crawl_families()
    sample_pool(current_app)  # this scrape's connection included
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_process)
    registry.register(_Families(crawls))
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return current_app.response_class(encode(registry), content_type=content_type)


def crawl_families() -> list:
    """The crawl series, per spider, from its last runs (the crawl_freshness view, read at each scrape)."""
    up = GaugeMetricFamily("api_database_up", "1 when the crawl runs could be read at this scrape.")
    try:
        spiders = last_runs()
    except (psycopg2.Error, DatabaseUnavailable):  # the request series are still worth scraping
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    families = {name: GaugeMetricFamily(name, text, labels=["spider", *label]) for name, text, label in (
        ("crawl_last_run_status", "1 for the status of the last crawl run of a spider.", ["status"]),
        ("crawl_last_run_items", "Items of the last crawl run, by outcome.", ["outcome"]),
        ("crawl_last_run_duration_seconds", "Run time of the last crawl run (so far if running).", []),
        ("crawl_last_run_age_seconds", "Seconds since the last crawl run ended (started, if running).", []),
        ("crawl_last_success_age_seconds", "Seconds since the last crawl run that finished successfully.", []),
        ("crawl_last_complete_age_seconds", "Seconds since the last complete crawl run (the whole site seen).", []),
        ("crawl_running_progress", "Progress of the running crawl of a spider, written at each staging flush"
                                   " (rate: items per second; eta_seconds: until its estimated end).", ["measure"]))}
    now = datetime.now(timezone.utc)

    def add(name: str, spider: str, value, *labels) -> None:
        if value is not None:
            families[name].add_metric([spider, *labels], value)

    for spider, runs in sorted(spiders.items()):
        run, complete = runs["last"], runs.get("complete")
        if run["status"] == "running" and run["progress_at"] is not None:
            for measure in PROGRESS:
                add("crawl_running_progress", spider, run[measure], measure)
            if run["eta"] is not None:
                add("crawl_running_progress", spider, max((run["eta"] - now).total_seconds(), 0), "eta_seconds")
            add("crawl_running_progress", spider, (now - run["progress_at"]).total_seconds(), "age_seconds")
        for name in dict.fromkeys((*CRAWL_STATUSES, run["status"])):
            add("crawl_last_run_status", spider, int(name == run["status"]), name)
        for outcome in OUTCOMES:
            add("crawl_last_run_items", spider, run[outcome], outcome)
        add("crawl_last_run_duration_seconds", spider,
            ((run["finished_at"] or now) - run["started_at"]).total_seconds())
        add("crawl_last_run_age_seconds", spider, (now - (run["finished_at"] or run["started_at"])).total_seconds())
        for name, at in (("crawl_last_success_age_seconds", runs["success_at"]),
                         ("crawl_last_complete_age_seconds", complete and complete["finished_at"])):
            add(name, spider, at and (now - at).total_seconds())
    return [up, *families.values()]


class _Families:
    """A collector of metric families computed for one scrape."""

    def __init__(self, families: list):
        self.collect = lambda: families
