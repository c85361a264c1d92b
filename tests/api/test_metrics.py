"""GET /metrics: Prometheus text that prometheus-client's own parser reads, with the
request, pool and crawl series; behind METRICS_TOKEN; correct under several gunicorn workers."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

import migrations
from api.db import close_pool
from tests.api.helpers import SECRET, assert_error, gunicorn, make_app, worker_pids

TOKEN = "metrics-token-" + "m" * 20
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict:
    """(sample name, frozenset of labels) -> value, over every family."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(parsed: dict, name: str, **labels) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def app(db_url):
    app = make_app(db_url, METRICS_TOKEN=TOKEN)
    yield app
    close_pool(app)


@pytest.fixture
def runs(db_url):
    """Crawl runs of two made-up spiders: one failed after a success (itself after a complete run),
    one still running."""
    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("""
            INSERT INTO crawl_runs (spider, status, complete, started_at, finished_at, inserted, updated, unchanged,
                                    removed, rejected, duplicates)
            VALUES ('metrics_a', 'finished', true, now() - interval '5 days',
                    now() - interval '5 days' + interval '1 s', 900, 0, 0, 0, 0, 0),
                   ('metrics_a', 'finished', false, now() - interval '3 days',
                    now() - interval '3 days' + interval '90 s', 10, 2, 5, 1, 0, 0),
                   ('metrics_a', 'failed', false, now() - interval '2 hours',
                    now() - interval '2 hours' + interval '30 s', 0, 0, 0, 0, 3, 1),
                   ('metrics_b', 'running', NULL, now() - interval '10 minutes', NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL)
        """)
        # The running crawl's progress as its last flush wrote it (crawler/store.py).
        cur.execute("UPDATE crawl_runs SET pages = 40, items = 700, staged = 500, rejected = 2, rate = 1.25,"
                    " expected = 1000, eta = now() + interval '240 s', progress_at = now() - interval '3 s'"
                    " WHERE spider = 'metrics_b'")
    yield
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM crawl_runs WHERE spider IN ('metrics_a', 'metrics_b')")
    conn.close()


def scrape(client) -> dict:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def test_request_series_count_each_request_by_route_and_status(app, client, auth, catalogue):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/books?limit=2", headers=auth).status_code == 200
    assert client.get("/api/v1/books?limit=0", headers=auth).status_code == 400
    assert client.get("/api/v1/books/999999", headers=auth).status_code == 404
    assert client.get("/api/v1/no/such/path").status_code == 404
    with client.get("/api/v1/ml/training-data?format=csv", headers=auth) as streamed:  # counted once closed
        assert streamed.is_streamed and streamed.get_data()
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    books = {"method": "GET", "route": "/api/v1/books"}
    assert delta("api_requests_total", **books, status="200") == 3
    assert delta("api_requests_total", **books, status="400") == 1
    assert delta("api_requests_total", method="GET", route="/api/v1/books/<int(max=2147483647):book_id>",
                 status="404") == 1
    assert delta("api_requests_total", method="GET", route="<unmatched>", status="404") == 1  # no path cardinality
    assert delta("api_request_duration_seconds_count", **books, status="200") == 3
    assert delta("api_request_duration_seconds_bucket", **books, status="200", le="+Inf") == 3
    assert delta("api_request_duration_seconds_sum", **books, status="200") > 0
    assert delta("api_requests_total", method="GET", route="/metrics", status="200") == 1  # the first scrape
    assert delta("api_request_duration_seconds_count", method="GET", route="/api/v1/ml/training-data",
                 status="200") == 1
    assert value(after, "api_db_pool_max_connections") == app.config["DB_POOL_MAX"]
    assert value(after, "api_db_pool_connections", state="in_use") >= 1  # the scrape's own connection
    assert value(after, "api_database_up") == 1


def test_crawl_series_give_the_last_run_of_each_spider(client, runs):
    parsed = scrape(client)
    assert value(parsed, "crawl_last_run_status", spider="metrics_a", status="failed") == 1
    assert value(parsed, "crawl_last_run_status", spider="metrics_a", status="finished") == 0
    assert value(parsed, "crawl_last_run_items", spider="metrics_a", outcome="rejected") == 3
    assert value(parsed, "crawl_last_run_duration_seconds", spider="metrics_a") == pytest.approx(30, abs=1)
    assert value(parsed, "crawl_last_run_age_seconds", spider="metrics_a") == pytest.approx(7170, abs=60)
    assert value(parsed, "crawl_last_success_age_seconds", spider="metrics_a") == pytest.approx(3 * 86400 - 90, abs=60)
    assert value(parsed, "crawl_last_complete_age_seconds", spider="metrics_a") == pytest.approx(5 * 86400 - 1, abs=60)

    assert value(parsed, "crawl_last_run_status", spider="metrics_b", status="running") == 1
    assert value(parsed, "crawl_last_run_duration_seconds", spider="metrics_b") == pytest.approx(600, abs=60)
    assert ("crawl_last_success_age_seconds", frozenset({("spider", "metrics_b")})) not in parsed  # never succeeded
    # Of the merge's counts a running crawl has only its rejects so far.
    assert [dict(labels)["outcome"] for name, labels in parsed
            if name == "crawl_last_run_items" and ("spider", "metrics_b") in labels] == ["rejected"]
    progress = {dict(labels)["measure"]: v for (name, labels), v in parsed.items()
                if name == "crawl_running_progress" and ("spider", "metrics_b") in labels}
    assert progress == {"pages": 40, "items": 700, "staged": 500, "rejected": 2, "expected": 1000, "rate": 1.25,
                        "eta_seconds": pytest.approx(240, abs=30), "age_seconds": pytest.approx(3, abs=30)}
    assert not any(name == "crawl_running_progress" and ("spider", "metrics_a") in labels for name, labels in parsed)


def test_token_guards_the_route(client, db_url):
    assert_error(client.get("/metrics"), 401)
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    off = make_app(db_url)  # no METRICS_TOKEN: the route is off
    assert_error(off.test_client().get("/metrics", headers=SCRAPE), 404)


def test_scrape_without_database_still_serves_request_series():
    down = make_app("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", METRICS_TOKEN=TOKEN)
    client = down.test_client()
    assert client.get("/api/v1/stats", headers={"Authorization": "Bearer x"}).status_code == 401
    parsed = scrape(client)
    assert value(parsed, "api_database_up") == 0
    assert value(parsed, "api_requests_total", method="GET", route="/api/v1/stats", status="401") >= 1


def test_metrics_are_not_api_operations(client):
    assert "/metrics" not in client.get("/api/v1/openapi.json").get_json()["paths"]


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_counts_add_up_over_gunicorn_workers(db_url, catalogue, auth, tmp_path):
    """Two workers answer (one thread each, so concurrent requests spread over both); every scrape,
    whichever worker serves it, counts every request once;
    a worker that dies keeps its requests counted and drops its pool gauges (child_exit)."""
    metrics_dir, log = tmp_path / "prometheus", tmp_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": db_url, "JWT_SECRET_KEY": SECRET, "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "API_DB_POOL_MAX": "10"}
    with gunicorn(env, log) as (server, base):
        books = f"{base}/api/v1/books?limit=1"

        # Concurrent requests until both workers have answered some (bounded).
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            for _ in range(10):
                statuses = list(pool.map(lambda _: get(books, auth)[0], range(16)))
                assert statuses == [200] * 16
                sent += 16
                if len(list(metrics_dir.glob("counter_*.db"))) >= 2:
                    break
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 2, "one worker answered every request"

        def scraped() -> dict:
            status, text = get(f"{base}/metrics", SCRAPE)
            assert status == 200, text
            return samples(text)

        route = {"method": "GET", "route": "/api/v1/books", "status": "200"}
        for _ in range(6):  # each scrape lands on either worker: all must agree
            parsed = scraped()
            assert value(parsed, "api_requests_total", **route) == sent
            assert value(parsed, "api_request_duration_seconds_count", **route) == sent
            assert value(parsed, "crawl_last_run_status", spider="books", status="finished") == 1
            assert value(parsed, "api_db_pool_max_connections") == 20  # 10 per worker, two workers

        victim = min(worker_pids(server.pid))
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while victim in worker_pids(server.pid) or len(worker_pids(server.pid)) < 2 \
                or list(metrics_dir.glob(f"gauge_livesum_{victim}.db")):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        parsed = scraped()
        assert value(parsed, "api_requests_total", **route) == sent  # the dead worker's requests stay counted
        assert 10 <= value(parsed, "api_db_pool_max_connections") <= 20
