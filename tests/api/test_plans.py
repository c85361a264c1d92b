"""Every query shape of /api/v1/books has a plan bounded by its page (issue 20): on a catalogue large
enough that a full scan shows, each statement a listing runs is explained (EXPLAIN ANALYZE, as the
API's sessions run it) and may neither scan books whole nor sort more rows than a walk may read (the
planner sorts a key range shorter than the walk rather than walk it in order).
Plans, not timings: nothing here measures time."""

from __future__ import annotations

import itertools
import json
import pytest
from flask_jwt_extended import create_access_token

import api.books
import api.paging
import migrations
from api.db import SESSION_DEFAULTS, close_pool
from tests.api.fill import filled_database
from tests.api.helpers import make_app

BOOKS = 20_000
WALK_ROWS, SORT_ROWS = 4_000, 400  # budgets small beside the catalogue, as 10,000 and 5,000 are beside 1M books
SORTS = [f"{sign}{key}" for key in ("id", "title", "price", "rating", "availability") for sign in ("", "-")]
SEARCHES = [None, "garden", "stone", "gar", "wild ocean"]  # a common word, one no title holds, 3 letters, 2 words


@pytest.fixture(scope="module")
def large_url(db_url):
    """A catalogue of BOOKS generated books (README's fill), in a database of its own."""
    with filled_database(db_url, BOOKS, "plans") as url:
        yield url


@pytest.fixture(scope="module")
def recorded(large_url):
    """(a client of an app on the large catalogue, its headers, the statements its last request ran)."""
    app = make_app(large_url, API_WALK_ROWS=WALK_ROWS, API_SORT_ROWS=SORT_ROWS, API_RESPONSE_CACHE_BYTES=0)
    statements = []
    patch = pytest.MonkeyPatch()
    for module in (api.books, api.paging):
        for name in ("fetch_all", "fetch_one"):
            def record(statement, params=(), _run=getattr(module, name)):
                statements.append((statement, params))
                return _run(statement, params)
            patch.setattr(module, name, record)
    conn = migrations.connect(large_url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES ('planner', 'x') RETURNING id")
        user = cur.fetchone()[0]
    conn.close()
    with app.app_context():
        headers = {"Authorization": f"Bearer {create_access_token(str(user))}"}
    yield app.test_client(), headers, statements
    patch.undo()
    close_pool(app)


def shapes():
    filters = itertools.product([None, "poetry"], [None, ("25.10", "27.35")], [None, 4], [None, "false"], SEARCHES)
    for (category, prices, rating, in_stock, q), sort in itertools.product(filters, SORTS):
        params = {"sort": sort, "limit": 20, "category": category, "min_rating": rating, "in_stock": in_stock, "q": q}
        if prices:
            params["min_price"], params["max_price"] = prices
        yield {k: v for k, v in params.items() if v is not None}


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def test_every_shape_has_a_bounded_plan(recorded, large_url):
    client, headers, statements = recorded
    options = SESSION_DEFAULTS.replace("\\ ", " ").split(" -c ")[1:]
    conn = migrations.connect(large_url)
    checked = set()
    with conn.cursor() as cur:
        for option in options:  # as the API's sessions run
            name, value = option.removeprefix("-c ").split("=")
            cur.execute("SELECT set_config(%s, %s, false)", (name, value))
        for params in shapes():
            statements.clear()
            response = client.get("/api/v1/books", query_string=params, headers=headers)
            assert response.status_code == 200, (params, response.get_json())
            for statement, values in statements:
                if "api.book_rows" not in statement or statement.startswith("EXPLAIN"):
                    continue
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, values)
                plan = cur.fetchone()[0][0]["Plan"]
                for node in nodes(plan):
                    assert not (node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "books"), \
                        (params, statement, json.dumps(plan))
                    if node["Node Type"] == "Sort":
                        assert node["Plans"][0]["Actual Rows"] <= WALK_ROWS, (params, statement, json.dumps(plan))
                checked.add(statement.split(" ", 2)[1] if statement.startswith("WITH") else statement[:30])
            conn.rollback()
    conn.close()
    assert {"hits", "matches", "candidates"} <= checked  # walks and both gathers were met


def test_answers_do_not_depend_on_the_plan(recorded, large_url):
    """The bounded plans answer what one ORDER BY … LIMIT over all matches answers, page after page."""
    client, headers, _ = recorded
    conn = migrations.connect(large_url)
    short = 0  # pages the long walk ended before they were full (q=wild, sort=title: the Wild titles come last)
    for params in [{"q": "gar", "sort": "-title"}, {"min_price": "25.10", "max_price": "25.40", "sort": "title"},
                   {"category": "poetry", "min_rating": 5, "in_stock": "false", "sort": "-price"},
                   {"q": "wild ocean", "sort": "rating"}, {"q": "stone", "sort": "id"}, {"q": "wild", "sort": "title"},
                   {"q": "1234", "category": "poetry", "sort": "-price"}]:  # a book number
        ids, cursor, totals = [], None, set()
        while True:
            response = client.get("/api/v1/books", query_string={**params, "limit": 50, **(
                {"cursor": cursor} if cursor else {})}, headers=headers)
            page = response.get_json()
            ids += [book["id"] for book in page["items"]]
            totals.add((page["total"], page["total_is_estimate"]))
            short += page["next_cursor"] is not None and len(page["items"]) < 50
            if not (cursor := page["next_cursor"]):
                break
        expected = _expected(conn, params)
        assert ids == expected, params
        [(total, estimated)] = totals  # one total for the listing, on every page
        assert total == len(expected) if not estimated else len(expected) / 2 <= total <= 2 * len(expected), \
            (params, total, len(expected))
    conn.close()
    assert short


def _expected(conn, params: dict) -> list[int]:
    where, values = ["removed_at IS NULL"], []
    for name, condition in (("min_price", "price >= %s"), ("max_price", "price <= %s"),
                            ("min_rating", "rating >= %s")):
        if name in params:
            where.append(condition)
            values.append(params[name])
    if "category" in params:
        where.append("category_id = (SELECT id FROM categories WHERE slug = %s)")
        values.append(params["category"])
    if params.get("in_stock") == "false":
        where.append("availability = 0")
    if "q" in params:
        where.append("strpos(lower(title), %s) > 0")
        values.append(params["q"])
    key = params["sort"].lstrip("-")
    direction = " DESC" if params["sort"].startswith("-") else ""
    order = f"{key}{direction}, id{direction}" if key != "id" else f"id{direction}"
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM books WHERE {' AND '.join(where)} ORDER BY {order}", values)
        return [row[0] for row in cur.fetchall()]
