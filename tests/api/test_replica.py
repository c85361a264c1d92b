"""The API unchanged against a PostgreSQL hot standby (API_DATABASE_URL at a streaming replica).

A throwaway primary and its standby (pg_basebackup -R) run as tests/cluster.py
makes them.
Books are merged into the primary through merge_books; the API reads only the
replica, data version and ETags included.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
from flask_jwt_extended import create_access_token

import migrations
from api import create_app
from api.db import close_pool
from tests.api.fill import load_books
from tests.cluster import Cluster, cluster_root
from tests.api.helpers import SECRET
from tests.helpers import query
from tests.sites.books import generate_books


@pytest.fixture
def replica():
    """(primary URL, standby URL) of a migrated primary and its hot standby."""
    with cluster_root("replica-") as root:
        primary = Cluster(root, "primary").initdb()
        primary.start()
        conn = migrations.connect(primary.url)
        migrations.migrate(conn)
        conn.close()
        standby = primary.standby("standby")
        standby.start()
        yield primary.url, standby.url


def caught_up(primary, standby) -> None:
    """Wait until the standby has replayed everything the primary has committed."""
    [(lsn,)] = query(primary, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 60
    while query(standby, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)) != [(True,)]:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.1)


def test_the_api_reads_a_hot_standby(replica, monkeypatch):
    primary_url, standby_url = replica
    primary, standby = migrations.connect(primary_url), migrations.connect(standby_url)
    assert query(standby, "SELECT pg_is_in_recovery()") == [(True,)]
    books = generate_books(60)
    load_books(primary, books)
    [(user_id,)] = query(primary, "INSERT INTO api_users (username, password_hash) VALUES ('replica', 'x')"
                                  " RETURNING id")
    caught_up(primary, standby)

    monkeypatch.setenv("API_DATABASE_URL", standby_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "JWT_SECRET_KEY": SECRET})
    client = app.test_client()
    with app.app_context():
        auth = {"Authorization": f"Bearer {create_access_token(str(user_id))}"}
    try:
        def get(path, **headers):
            response = client.get(path, headers={**auth, **headers})
            assert response.status_code in (200, 304), response.get_data(as_text=True)
            return response

        [(version,)] = query(primary, "SELECT version FROM data_versions WHERE scope = 'books'")
        first = get("/api/v1/books?sort=-price&limit=5")
        assert first.headers["X-Data-Version"] == f"books={version}"
        assert first.get_json()["total"] == 60
        assert get("/api/v1/stats").get_json()["books"] == 60
        assert sum(c["book_count"] for c in get("/api/v1/categories").get_json()["items"]) == 60
        assert get("/api/v1/books?sort=-price&limit=5", **{"If-None-Match": first.headers["ETag"]}).status_code == 304

        load_books(primary, books)  # unchanged recrawl: nothing served moves
        caught_up(primary, standby)
        assert get("/api/v1/books?sort=-price&limit=5").headers["ETag"] == first.headers["ETag"]

        cheapest = min(books, key=lambda b: b.price_incl_tax)
        books = [dataclasses.replace(b, price_incl_tax=Decimal("999.99")) if b is cheapest else b for b in books]
        load_books(primary, books)
        caught_up(primary, standby)
        after = get("/api/v1/books?sort=-price&limit=5", **{"If-None-Match": first.headers["ETag"]})
        assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
        assert after.get_json()["items"][0]["id"] == cheapest.id
        assert after.headers["X-Data-Version"] != first.headers["X-Data-Version"]
    finally:
        close_pool(app)
        primary.close()
        standby.close()
