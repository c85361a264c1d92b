"""/api/v1/crawls: newest first, filters, limit."""

from __future__ import annotations

from tests.api.helpers import assert_error
from tests.helpers import query
from tests.api.fill import load_books
from tests.sites.books import generate_books


def test_crawls(db, client, auth):
    books = generate_books(30)
    first = load_books(db, books)
    second = load_books(db, books[:10], complete=False)
    other = load_books(db, [], spider="vitibrasil")
    # Still running, with the progress its last flush wrote.
    query(db, "INSERT INTO crawl_runs (spider, pages, items, staged, rejected, rate, expected, eta, progress_at)"
              " VALUES ('books', 12, 230, 200, 1, 11.5, 1000, now() + interval '67 s', now()) RETURNING id")
    items = client.get("/api/v1/crawls", headers=auth).get_json()["items"]
    assert [c["id"] for c in items] == [4, other, second, first]
    running, _, partial, full = items
    assert running["status"] == "running" and running["finished_at"] is None
    assert {k: running[k] for k in ("pages", "items", "staged", "rejected", "rate", "expected")} == {
        "pages": 12, "items": 230, "staged": 200, "rejected": 1, "rate": 11.5, "expected": 1000}
    assert running["eta"] > running["progress_at"] >= running["started_at"]
    assert (full["inserted"], full["complete"]) == (30, True)
    assert (partial["unchanged"], partial["removed"], partial["complete"]) == (10, 0, False)

    def ids(**params):
        response = client.get("/api/v1/crawls", query_string=params, headers=auth)
        return [c["id"] for c in response.get_json()["items"]]

    assert ids(spider="vitibrasil") == [other]
    assert ids(status="running") == [4]
    assert ids(spider="books", status="finished") == [second, first]
    assert ids(limit=2) == [4, other]
    assert ids(spider="nope") == []
    health = client.get("/api/v1/health", headers=auth).get_json()
    assert {(s["spider"], s["last_run"]["id"], s["last_complete_run"]["id"]) for s in health["spiders"]} == {
        ("books", 4, first), ("vitibrasil", other, other)}


def test_crawls_bad_input(client, auth):
    assert_error(client.get("/api/v1/crawls?status=done", headers=auth), 400, "status")
    assert_error(client.get("/api/v1/crawls?limit=0", headers=auth), 400, "limit")
    assert_error(client.get("/api/v1/crawls?since=2020", headers=auth), 400, "since")
