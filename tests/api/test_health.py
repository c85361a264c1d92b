"""/api/v1/health: 200 with the schema version; 503 in the error shape when the database is down."""

from __future__ import annotations

from api.db import close_pool
from tests.helpers import assert_error, make_app

DOWN = "postgresql://api@127.0.0.1:1/nowhere"  # nothing listens on port 1


def test_health(client, catalogue):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok" and body["database"] == "up"
    assert body["schema_version"] >= "0002_api"
    assert [c["id"] for c in body["last_crawls"]] == [catalogue.runs[-1]]


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
