"""One JSON error shape for everything: unknown routes, wrong methods, unknown
parameters on every endpoint, and crashes."""

from __future__ import annotations

import pytest

from api.db import close_pool
from tests.api.helpers import assert_error, make_app

GETS = ["/api/v1/health", "/api/v1/books", "/api/v1/books/1", "/api/v1/books/1/history", "/api/v1/categories",
        "/api/v1/stats", "/api/v1/stats/categories", "/api/v1/crawls", "/api/v1/ml/features",
        "/api/v1/ml/training-data", "/api/v1/openapi.json", "/api/v1/docs"]


@pytest.mark.parametrize("path", GETS)
def test_unknown_parameter_named_on_every_endpoint(client, auth, catalogue, path):
    body = assert_error(client.get(path, query_string={"bogus": "1"}, headers=auth), 400, "bogus")
    assert body["errors"] == {"bogus": ["Unknown query parameter."]}


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1", "/api/v1/book", "/api/v1/books/", "/api/v2/books",
                                  "/api/v1/books/1/history/x", "/static/x.js"])
def test_unknown_route(client, auth, path):
    assert_error(client.get(path, headers=auth), 404)


@pytest.mark.parametrize("method, path", [("post", "/api/v1/books"), ("delete", "/api/v1/books/1"),
                                          ("put", "/api/v1/categories"), ("patch", "/api/v1/health"),
                                          ("get", "/api/v1/auth/refresh"), ("delete", "/api/v1/docs")])
def test_wrong_method(client, auth, method, path):
    response = getattr(client, method)(path, headers=auth)
    assert_error(response, 405)
    assert response.headers["Allow"]


def test_head_and_options_work(client, auth, catalogue):
    assert client.head("/api/v1/books", headers=auth).status_code == 200
    assert "GET" in client.options("/api/v1/books").headers["Allow"]


def test_crash_is_a_json_500(db_url, caplog):
    app = make_app(db_url)

    @app.get("/api/v1/boom")
    def boom():
        raise ZeroDivisionError("secret detail")

    body = assert_error(app.test_client().get("/api/v1/boom"), 500)
    assert body == {"status": 500, "error": "internal_server_error", "message": "internal server error"}
    assert "secret detail" in caplog.text  # logged, not shown
    close_pool(app)
