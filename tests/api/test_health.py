"""/api/v1/health: freshness per spider for anyone, the runs only with a token; 503 in the
error shape when the database is down."""

from __future__ import annotations

import json
import uuid

import pytest
from flask_jwt_extended import create_access_token

from api.db import close_pool
from tests.api.helpers import assert_error, make_app

# Nothing listens on port 1. A name of its own: api/limits.py gives each database URL one login slot
# per machine, which a login to the same URL in another process (xdist worker, suite) would hold.
DOWN = f"postgresql://api@127.0.0.1:1/nowhere_{uuid.uuid4().hex[:8]}"
SECRET_ARGUMENT = "http://10.1.2.3/internal-mirror/"


def _run(db, spider, status, ago_hours, complete=None, args=None):
    with db, db.cursor() as cur:
        cur.execute(
            "INSERT INTO crawl_runs (spider, status, args, started_at, finished_at, finish_reason, complete, inserted)"
            " VALUES (%s, %s, %s, now() - make_interval(hours => %s) - interval '5 minutes',"
            " CASE WHEN %s <> 'running' THEN now() - make_interval(hours => %s) END, %s, %s, 7) RETURNING id",
            (spider, status, json.dumps(args or {}), ago_hours, status, ago_hours,
             None if status == "running" else status, complete))
        return cur.fetchone()[0]


@pytest.fixture
def runs(db):
    return {
        "books_good": _run(db, "books", "finished", 3, True, {"start_url": SECRET_ARGUMENT}),
        "books_failed": _run(db, "books", "failed", 1, False, {"start_url": SECRET_ARGUMENT}),
        "books_running": _run(db, "books", "running", 0),
        "viti_old": _run(db, "vitibrasil", "finished", 24 * 10, True),
        "viti_incomplete": _run(db, "vitibrasil", "finished", 2, False),
    }


@pytest.fixture
def health_app(db_url):
    app = make_app(db_url, HEALTH_MAX_AGE=86400, HEALTH_MAX_AGES={"books": 4 * 3600, "never": 60})
    yield app
    close_pool(app)


def test_public_answer_is_status_and_freshness_only(health_app, runs):
    response = health_app.test_client().get("/api/v1/health")
    assert response.status_code == 200
    body = response.get_json()
    assert SECRET_ARGUMENT not in response.get_data(as_text=True)
    assert body["status"] == "degraded" and body["database"] == "up" and body["schema_version"] >= "0002_api"
    spiders = {s["spider"]: s for s in body["spiders"]}
    assert list(spiders) == ["books", "never", "vitibrasil"]
    books = spiders["books"]
    assert set(books) == {"spider", "last_status", "last_complete_at", "age_seconds", "max_age_seconds", "stale",
                          "failed"}
    assert books["last_status"] == "running" and books["failed"] is True and books["stale"] is False
    assert 3 * 3600 - 60 < books["age_seconds"] < 3 * 3600 + 60 and books["max_age_seconds"] == 4 * 3600
    viti = spiders["vitibrasil"]  # finished but incomplete two hours ago: the data is ten days old
    assert viti["last_status"] == "finished" and viti["failed"] is False
    assert viti["stale"] is True and viti["age_seconds"] > 9 * 86400 and viti["max_age_seconds"] == 86400
    assert spiders["never"] == {"spider": "never", "last_status": None, "last_complete_at": None, "age_seconds": None,
                                "max_age_seconds": 60, "stale": True, "failed": False}


def test_details_with_a_valid_token(health_app, runs, user):
    with health_app.app_context():
        token = create_access_token(str(user["id"]))
    body = health_app.test_client().get("/api/v1/health", headers={"Authorization": f"Bearer {token}"}).get_json()
    books = next(s for s in body["spiders"] if s["spider"] == "books")
    assert books["last_run"]["id"] == runs["books_running"]
    assert books["last_complete_run"]["id"] == runs["books_good"]
    assert books["last_complete_run"]["args"] == {"start_url": SECRET_ARGUMENT}
    assert books["last_complete_run"]["inserted"] == 7


def test_an_invalid_token_is_refused_not_ignored(health_app, runs):
    response = health_app.test_client().get("/api/v1/health", headers={"Authorization": "Bearer abc"})
    assert_error(response, 401)
    assert SECRET_ARGUMENT not in response.get_data(as_text=True)


def test_ok_when_every_spider_is_fresh(db, health_app):
    _run(db, "books", "finished", 1, True)
    body = health_app.test_client().get("/api/v1/health").get_json()
    assert body["status"] == "degraded"  # "never" has a threshold and no run
    app = make_app(health_app.config["DATABASE_URL"])
    assert app.test_client().get("/api/v1/health").get_json()["status"] == "ok"
    close_pool(app)


def test_database_down(db_url, auth):
    app = make_app(DOWN)
    client = app.test_client()
    body = assert_error(client.get("/api/v1/health"), 503)
    assert body["message"] == "database unavailable" and "127.0.0.1" not in body["message"]
    # Token checks need the database too: 503, not 401 or 500.
    assert_error(client.get("/api/v1/books", headers=auth), 503)
    assert_error(client.post("/api/v1/auth/login", json={"username": "a", "password": "b"}), 503)
    assert client.get("/api/v1/openapi.json").status_code == 200  # needs no database
    close_pool(app)


def test_pool_recovers_after_connections_are_killed(app, client, catalogue, db):
    assert client.get("/api/v1/health").status_code == 200
    with db.cursor() as cur:  # what a database restart does to pooled connections
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'books-api' AND datname = current_database()")
    db.commit()
    statuses = [client.get("/api/v1/health").status_code for _ in range(3)]
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}
