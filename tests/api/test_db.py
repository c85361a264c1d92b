"""The per-request connection: returned to the pool after every request, streamed ones included."""

from __future__ import annotations

from api.db import _POOL


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
