"""A statement that outlasts API_STATEMENT_TIMEOUT is cancelled: a JSON 503 with Retry-After, logged
with the query's shape, and the connection serves the next request (issue 20). The statement is made
slow by a lock another session holds on books, so the test needs no slow query and no clock."""

from __future__ import annotations

import logging

import pytest
from flask_jwt_extended import create_access_token

import migrations
from api.db import close_pool
from tests.api.helpers import assert_error, make_app


@pytest.fixture
def impatient(db_url):
    app = make_app(db_url, API_STATEMENT_TIMEOUT=0.2, DB_POOL_MAX=1)
    yield app
    close_pool(app)


def test_a_cancelled_query_is_a_503_and_the_worker_goes_on(impatient, user, catalogue, caplog):
    with impatient.app_context():
        headers = {"Authorization": f"Bearer {create_access_token(str(user['id']))}"}
    client = impatient.test_client()
    locker = migrations.connect(impatient.config["DATABASE_URL"])
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")  # held until the rollback below
        with caplog.at_level(logging.WARNING, logger="api.errors"):
            response = client.get("/api/v1/books?category=poetry&min_price=20&q=garden&sort=-title", headers=headers)
    locker.rollback()
    locker.close()
    body = assert_error(response, 503)
    assert "took too long" in body["message"]
    assert response.headers["Retry-After"].isdigit()
    assert "statement timeout: GET /api/v1/books?category&min_price&q&sort=-title" in caplog.text
    assert "garden" not in caplog.text  # the shape, not the values
    # The same (only) pooled connection answers next, its aborted transaction rolled back.
    again = client.get("/api/v1/books?category=poetry&min_price=20&q=garden&sort=-title", headers=headers)
    assert again.status_code == 200, again.get_json()
