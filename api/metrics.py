"""``GET /metrics``: Prometheus text format, written by prometheus-client.

- ``api_requests_total`` and ``api_request_duration_seconds`` (histogram) per
  method, route (the URL rule, ``<unmatched>`` for 404s) and status;
- ``api_db_pool_connections{state="in_use"|"idle"}`` and ``api_db_pool_max_connections``,
  summed over the live workers, sampled at the end of each request and at a scrape;
- per spider, its last crawl run read at scrape time (api/crawls.py, the ``crawl_freshness`` view):
  ``crawl_last_run_status{status}`` (1 for the run's status, 0 for the others),
  ``crawl_last_run_items{outcome}``, ``crawl_last_run_duration_seconds``,
  ``crawl_last_run_age_seconds``, ``crawl_last_success_age_seconds`` and
  ``crawl_last_complete_age_seconds``; while the last run is running, its progress
  ``crawl_running_progress{measure}`` (pages, items, staged, rejected, expected, rate per second,
  eta_seconds from now, age_seconds of the progress written at the last flush);
  ``api_database_up`` says whether they could be read.

Under several gunicorn workers ``PROMETHEUS_MULTIPROC_DIR`` (set by
gunicorn.conf.py before any worker imports prometheus-client) makes each worker
write its samples to files there; a scrape, whichever worker answers it, adds
them all up. Access: ``Authorization: Bearer $METRICS_TOKEN``; without
``METRICS_TOKEN`` the route answers 404.
"""

from __future__ import annotations

import hmac
import os
from datetime import datetime, timezone

import psycopg2
from flask import Blueprint, current_app, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from api.crawls import last_runs
from api.db import pool_usage
from api.errors import ApiError
from migrations import DatabaseUnavailable

bp = Blueprint("metrics", __name__)

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
STATUSES = ("running", "finished", "partial", "failed", "interrupted")  # crawl_runs.status
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

def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    """One answered request (api/request_log.py times it)."""
    labels = (method if method in METHODS else "other", route or "<unmatched>", str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


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
    crawls = _Families(crawl_families())
    sample_pool(current_app)  # this scrape's connection included
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_process)
    registry.register(crawls)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return current_app.response_class(encode(registry), content_type=content_type)


def crawl_families() -> list:
    up = GaugeMetricFamily("api_database_up", "1 when the crawl runs could be read at this scrape.")
    try:
        spiders = last_runs()
    except (psycopg2.Error, DatabaseUnavailable):  # the request series are still worth scraping
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    status = GaugeMetricFamily("crawl_last_run_status", "1 for the status of the last crawl run of a spider.",
                               labels=["spider", "status"])
    items = GaugeMetricFamily("crawl_last_run_items", "Items of the last crawl run, by outcome.",
                              labels=["spider", "outcome"])
    duration = GaugeMetricFamily("crawl_last_run_duration_seconds", "Run time of the last crawl run (so far if running).",
                                 labels=["spider"])
    age = GaugeMetricFamily("crawl_last_run_age_seconds", "Seconds since the last crawl run ended (started, if running).",
                            labels=["spider"])
    success_age = GaugeMetricFamily("crawl_last_success_age_seconds",
                                    "Seconds since the last crawl run that finished successfully.", labels=["spider"])
    complete_age = GaugeMetricFamily("crawl_last_complete_age_seconds",
                                     "Seconds since the last complete crawl run (the whole site seen).",
                                     labels=["spider"])
    progress = GaugeMetricFamily("crawl_running_progress", "Progress of the running crawl of a spider, written at"
                                 " each staging flush (rate: items per second; eta_seconds: until its estimated end).",
                                 labels=["spider", "measure"])
    now = datetime.now(timezone.utc)
    for spider, runs in sorted(spiders.items()):
        run = runs["last"]
        if run["status"] == "running" and run["progress_at"] is not None:
            for measure in PROGRESS:
                if run[measure] is not None:
                    progress.add_metric([spider, measure], run[measure])
            if run["eta"] is not None:
                progress.add_metric([spider, "eta_seconds"], max((run["eta"] - now).total_seconds(), 0))
            progress.add_metric([spider, "age_seconds"], (now - run["progress_at"]).total_seconds())
        for name in dict.fromkeys((*STATUSES, run["status"])):
            status.add_metric([spider, name], int(name == run["status"]))
        for outcome in OUTCOMES:
            if run[outcome] is not None:
                items.add_metric([spider, outcome], run[outcome])
        duration.add_metric([spider], ((run["finished_at"] or now) - run["started_at"]).total_seconds())
        age.add_metric([spider], (now - (run["finished_at"] or run["started_at"])).total_seconds())
        complete = runs.get("complete")
        for family, at in ((success_age, runs["success_at"]), (complete_age, complete and complete["finished_at"])):
            if at is not None:
                family.add_metric([spider], (now - at).total_seconds())
    return [up, status, items, duration, age, success_age, complete_age, progress]


class _Families:
    """A collector of metric families computed for one scrape."""

    def __init__(self, families: list):
        self.families = families

    def collect(self):
        return self.families
