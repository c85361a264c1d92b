"""Data versions, ETags, 304s and the bounded caches (api/caching.py, api/paging.py, 0009_data_version.sql)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from flask_jwt_extended import create_access_token

from api.caching import RESPONSES
from api.db import close_pool
from api.paging import COUNTS
from tests.api.fill import load_books
from tests.api.helpers import make_app
from tests.helpers import query, records
from tests.sites.books import generate_books

CACHED = ["/api/v1/books", "/api/v1/books?category=poetry&sort=-price&limit=5", "/api/v1/books/3",
          "/api/v1/books/3/history", "/api/v1/categories", "/api/v1/stats", "/api/v1/stats/categories",
          "/api/v1/vitibrasil/datasets", "/api/v1/crawls"]


@pytest.fixture
def apps(db_url):
    """Two app instances on the same database: two workers, each with its own caches."""
    made = [make_app(db_url), make_app(db_url)]
    yield made
    for app in made:
        close_pool(app)


def token(app, user) -> dict:
    with app.app_context():
        return {"Authorization": f"Bearer {create_access_token(str(user['id']))}"}


def answers(app, headers, paths=CACHED) -> dict:
    client = app.test_client()
    result = {}
    for path in paths:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        result[path] = (response.headers["ETag"], response.get_data())
    return result


def version(db, scope: str) -> int:
    return query(db, "SELECT coalesce(max(version), 0) FROM data_versions WHERE scope = %s", (scope,))[0][0]


def test_etag_and_304_only_with_a_valid_token(db, client, auth, app):
    load_books(db, generate_books(30))
    for path in CACHED:
        first = client.get(path, headers=auth)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")  # strong
        assert first.headers["Cache-Control"] == "private, no-cache"
        again = client.get(path, headers={**auth, "If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", path
        assert again.headers["ETag"] == etag
        other = client.get(path, headers={**auth, "If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.get_data() == first.get_data()
        # No token, a bad one, or a disabled user: 401, never 304 nor the cached body.
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 401
        forged = {"Authorization": auth["Authorization"][:-2] + "xx", "If-None-Match": etag}
        assert client.get(path, headers=forged).status_code == 401
    query(db, "UPDATE api_users SET active = false RETURNING id")
    response = client.get(CACHED[0], headers={**auth, "If-None-Match": etag})
    assert response.status_code == 401


def test_a_changing_merge_is_seen_by_every_worker(db, apps, user):
    books = generate_books(40)
    load_books(db, books)
    headers = [token(app, user) for app in apps]
    before = [answers(app, h) for app, h in zip(apps, headers)]
    assert before[0] == before[1]  # same data, same ETags and bodies on both workers
    assert [answers(app, h) for app, h in zip(apps, headers)] == before  # replayed from the caches: unchanged

    books[-3] = dataclasses.replace(books[-3], price_incl_tax=books[-3].price_incl_tax + Decimal("2.00"))
    load_books(db, books)
    after = [answers(app, h) for app, h in zip(apps, headers)]
    assert after[0] == after[1]
    book = "/api/v1/books/3"
    assert after[0][book][0] != before[0][book][0] and after[0][book][1] != before[0][book][1]
    price = apps[0].test_client().get(book, headers=headers[0]).get_json()["price"]
    assert Decimal(str(price)) == books[-3].price_incl_tax
    for path in CACHED:  # every answer of the books (and runs) scopes moved; Vitibrasil's did not
        assert (after[0][path][0] == before[0][path][0]) == path.startswith("/api/v1/vitibrasil"), path
    # The stale ETag no longer matches: a full answer with the new data.
    response = apps[1].test_client().get(book, headers={**headers[1], "If-None-Match": before[1][book][0]})
    assert response.status_code == 200 and response.get_data() == after[1][book][1]


def test_an_unchanged_recrawl_keeps_etags_and_writes_no_book(db, client, auth):
    books = generate_books(50)
    load_books(db, books)
    paths = [p for p in CACHED if p != "/api/v1/crawls" and p != "/api/v1/stats"]
    before = answers(client.application, auth, paths)
    rows_before = query(db, "SELECT id, xmin::text FROM books ORDER BY id")
    books_version, runs_version = version(db, "books"), version(db, "runs")

    run = load_books(db, books)  # a complete crawl that finds everything as it was

    assert query(db, "SELECT id, xmin::text FROM books ORDER BY id") == rows_before  # no book row rewritten
    assert version(db, "books") == books_version and version(db, "runs") > runs_version
    assert answers(client.application, auth, paths) == before
    # Its sighting is kept per run: analysts see it, the API's last_seen_at waits for the next change.
    [(sighted,)] = query(db, "SELECT cardinality(book_ids) FROM book_sightings WHERE run_id = %s", (run,))
    assert sighted == 50
    seen = dict(query(db, "SELECT id, last_seen_at FROM analytics.books"))
    stored = dict(query(db, "SELECT id, last_seen_at FROM books"))
    assert all(seen[i] > stored[i] for i in stored)
    # The crawl list and the stats' last crawl did change.
    assert client.get("/api/v1/stats", headers=auth).get_json()["last_crawl"]["id"] == run

    # The next changing merge folds the sightings into last_seen_at.
    load_books(db, books[:-1])
    assert query(db, "SELECT count(*) FROM book_sightings") == [(0,)]
    stored = dict(query(db, "SELECT id, last_seen_at FROM books"))
    assert all(stored[i] >= seen[i] for i in stored)
    assert stored[1] == seen[1]  # removed by this run: last seen by the unchanged one


def merge_observations(db, rows) -> None:
    """Stage ``rows`` (dataset, year, category, item, is_category, quantity) in a run and merge them."""
    with db, db.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider) VALUES ('vitibrasil') RETURNING id")
        run = cur.fetchone()[0]
        cur.executemany("INSERT INTO staging.vitibrasil_observations (run_id, dataset, year, category, item,"
                        " is_category, quantity) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(run, *row) for row in rows])
        cur.execute("SELECT * FROM vitibrasil.merge_observations(%s, true)", (run,))


def test_each_scope_moves_with_its_own_data(db):
    versions = {scope: version(db, scope) for scope in ("books", "vitibrasil", "runs")}
    load_books(db, generate_books(5))
    assert version(db, "vitibrasil") == versions["vitibrasil"] and version(db, "books") > versions["books"]
    rows = [("production", 2020, "VINHO DE MESA", "Tinto", False, 10),
            ("production", 2020, "VINHO DE MESA", "Rosado", False, 3)]
    merge_observations(db, rows)
    moved = version(db, "vitibrasil")
    assert moved > versions["vitibrasil"]
    merge_observations(db, rows)  # unchanged figures
    assert version(db, "vitibrasil") == moved
    merge_observations(db, rows[:1])  # one row gone from a complete reading of the year
    assert version(db, "vitibrasil") > moved
    assert query(db, "SELECT row_count FROM api.vitibrasil_datasets WHERE name = 'production'") == [(1,)]
    # The summary equals what 0007's view computed per request.
    assert query(db, "SELECT name, first_year, last_year, row_count, last_updated FROM api.vitibrasil_datasets"
                     " ORDER BY name") == query(db, """
        SELECT d.name, min(o.year), max(o.year), count(o.id), max(o.updated_at)
        FROM vitibrasil.datasets d
        LEFT JOIN vitibrasil.observations o ON o.dataset = d.name AND o.removed_at IS NULL
        GROUP BY d.name ORDER BY d.name""")


SIZES = [0, 7, 400, 2500]
COUNT_CASES = [{}, {"include_removed": "true"}, {"category": "Poetry"}, {"category": "poetry", "include_removed": "1"},
               {"min_price": "20", "max_price": "45"}, {"min_rating": "3"}, {"in_stock": "false"},
               {"q": "garden"}, {"rating": "5", "sort": "-title"}]


def sql_count(db, params: dict) -> int:
    where, args = ["true"], []
    if params.get("include_removed") not in ("true", "1"):
        where.append("b.removed_at IS NULL")
    if "category" in params:
        where.append("(lower(c.name) = lower(%s) OR c.slug = lower(%s))")
        args += [params["category"]] * 2
    for name, condition in (("min_price", "b.price >= %s"), ("max_price", "b.price <= %s"),
                            ("rating", "b.rating = %s"), ("min_rating", "b.rating >= %s")):
        if name in params:
            where.append(condition)
            args.append(params[name])
    if params.get("in_stock") == "false":
        where.append("b.availability = 0")
    if "q" in params:
        where.append("strpos(lower(b.title), lower(%s)) > 0")
        args.append(params["q"])
    return query(db, f"SELECT count(*) FROM books b JOIN categories c ON c.id = b.category_id"
                     f" WHERE {' AND '.join(where)}", args)[0][0]


AGGREGATES = {  # what 0002/0005 computed per request: the summaries must give the same
    "categories": """SELECT c.name, count(b.id) AS book_count,
                            count(b.id) FILTER (WHERE b.availability > 0) AS in_stock,
                            coalesce(sum(b.availability), 0) AS units, round(avg(b.price), 2) AS avg_price,
                            min(b.price) AS min_price, max(b.price) AS max_price, round(avg(b.rating), 2) AS avg_rating
                     FROM categories c LEFT JOIN books b ON b.category_id = c.id AND b.removed_at IS NULL
                     GROUP BY c.id ORDER BY c.name""",
    "stats": """SELECT count(*) FILTER (WHERE listed) AS books, count(*) FILTER (WHERE NOT listed) AS removed,
                       count(*) FILTER (WHERE listed AND availability > 0) AS in_stock,
                       count(*) FILTER (WHERE listed AND availability = 0) AS out_of_stock,
                       coalesce(sum(availability) FILTER (WHERE listed), 0) AS units,
                       count(DISTINCT category_id) FILTER (WHERE listed) AS categories,
                       min(price) FILTER (WHERE listed) AS min_price, max(price) FILTER (WHERE listed) AS max_price,
                       round(avg(price) FILTER (WHERE listed), 2) AS avg_price,
                       count(*) FILTER (WHERE listed AND rating = 5) AS rating_5
                FROM (SELECT *, removed_at IS NULL AS listed FROM books) b""",
}


def as_number(value):
    return None if value is None else Decimal(str(value))


@pytest.mark.parametrize("size", SIZES)
def test_counts_and_aggregates_equal_sql(db, db_url, user, size):
    app = make_app(db_url, API_COUNT_CAP=300)
    headers = token(app, user)
    client = app.test_client()
    books = generate_books(size)
    if books:
        load_books(db, books)
        load_books(db, [b for b in books if b.id % 9])  # removed books exist
    try:
        estimated = []
        for params in COUNT_CASES:
            body = client.get("/api/v1/books", query_string=params, headers=headers).get_json()
            exact = sql_count(db, params)
            estimated += [params] if body["total_is_estimate"] else []
            if body["total_is_estimate"]:
                assert exact > 300 and body["total"] > 300, (params, body["total"], exact)
            else:
                assert body["total"] == exact, params
            summarised = set(params) <= {"category", "include_removed"}
            assert not (summarised and body["total_is_estimate"]), params  # summaries are exact at any size
        assert bool(estimated) == (size == max(SIZES))  # far past the cap, filtered counts are estimates
        [stats] = records(db, AGGREGATES["stats"])
        served = client.get("/api/v1/stats", headers=headers).get_json()
        assert {k: served[k] for k in ("books", "removed", "in_stock", "out_of_stock", "units", "categories")} == \
               {k: stats[k] for k in ("books", "removed", "in_stock", "out_of_stock", "units", "categories")}
        assert served["price"] == {"min": as_number(stats["min_price"]) and float(stats["min_price"]),
                                   "max": as_number(stats["max_price"]) and float(stats["max_price"]),
                                   "avg": as_number(stats["avg_price"]) and float(stats["avg_price"])}
        assert served["rating_distribution"]["5"] == stats["rating_5"]
        expected = [{k: (float(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
                    for row in records(db, AGGREGATES["categories"])]
        items = client.get("/api/v1/stats/categories", headers=headers).get_json()["items"]
        assert sorted(({k: c[k] for k in expected[0]} for c in items), key=lambda c: c["name"]) == expected \
            if expected else items == []
    finally:
        close_pool(app)


def test_caches_are_bounded(db, db_url, user):
    load_books(db, generate_books(300))
    app = make_app(db_url, API_RESPONSE_CACHE_BYTES=60_000, API_COUNT_CACHE_SIZE=5)
    headers = token(app, user)
    client = app.test_client()
    try:
        for limit in range(1, 60):
            for params in ({"limit": limit}, {"limit": limit, "min_price": str(10 + limit)}):
                assert client.get("/api/v1/books", query_string=params, headers=headers).status_code == 200
        responses, counts = app.extensions[RESPONSES], app.extensions[COUNTS]
        assert 0 < responses.size <= 60_000 and len(counts) == 5
        # A replayed answer is the answer: same bytes and headers as a fresh one.
        path = "/api/v1/books?limit=2"
        cached = client.get(path, headers=headers)
        fresh = make_app(db_url)
        try:
            direct = fresh.test_client().get(path, headers=token(fresh, user))
            assert (cached.get_data(), cached.headers["ETag"], cached.mimetype) == \
                   (direct.get_data(), direct.headers["ETag"], direct.mimetype)
        finally:
            close_pool(fresh)
    finally:
        close_pool(app)

