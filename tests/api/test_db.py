"""The per-request connection: returned to the pool after every request, streamed ones included."""

from __future__ import annotations

import threading

from api.db import _POOL, close_pool, get_db
from tests.api.helpers import assert_error, make_app


def test_connections_return_to_the_pool(app, client, auth, catalogue):
    for path in ("/api/v1/books", "/api/v1/ml/training-data", "/api/v1/ml/training-data?format=csv",
                 "/api/v1/books/999999", "/api/v1/books?limit=0"):
        response = client.get(path, headers=auth)
        response.get_data()  # run a streamed body to its end
        response.close()
        pool = app.extensions[_POOL]
        assert pool._used == {}, path  # nothing checked out once the response is done
    assert len(app.extensions[_POOL]._pool) == 1  # and the one connection is reused


def test_streamed_rows_share_the_stamp_snapshot(app, client, auth, catalogue):
    """The run id and the rows come from one transaction: same connection, same snapshot."""
    response = client.get("/api/v1/ml/training-data", headers=auth)
    body = response.get_json()
    assert body["crawl_run_id"] == catalogue.runs[-1] and len(body["rows"]) == 960
    assert len(app.extensions[_POOL]._pool) == 1


def test_more_requests_than_connections_wait_for_one(db_url, auth, catalogue, caplog):
    """A process may run more threads than it has connections (gunicorn.conf.py): a request
    waits for a free one, up to DB_POOL_TIMEOUT, then gets a JSON 503."""
    for timeout, status in ((30, 200), (0.2, 503)):
        app, taken, done = make_app(db_url, DB_POOL_MAX=1, DB_POOL_TIMEOUT=timeout), threading.Event(), threading.Event()

        def other_request():
            with app.app_context():  # holds the only connection until ``done``
                get_db()
                taken.set()
                done.wait()

        other = threading.Thread(target=other_request)
        other.start()
        taken.wait()
        if status == 200:
            threading.Timer(0.3, done.set).start()
        response = app.test_client().get("/api/v1/books?limit=1", headers=auth)
        done.set()
        other.join()
        if status == 200:
            assert response.status_code == 200
        else:
            assert_error(response, 503)
            assert "all 1 database connections of this process stayed busy" in caplog.text
        close_pool(app)
