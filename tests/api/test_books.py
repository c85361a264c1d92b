"""/api/v1/books: every filter, every sort, cursor walks, detail, history, bad input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.api.helpers import assert_error, walk
from tests.helpers import query

LIST = "/api/v1/books"


def ids(items) -> list[int]:
    return [item["id"] for item in items]


def matching(catalogue, keep, include_removed=False) -> set[int]:
    books = catalogue.books if include_removed else catalogue.listed
    return {i for i, b in books.items() if keep(b)}


def test_first_page_defaults(client, auth, catalogue):
    body = client.get(LIST, headers=auth).get_json()
    assert body["total"] == len(catalogue.listed) == 960
    assert ids(body["items"]) == sorted(catalogue.listed)[:20]
    assert body["next_cursor"]


def test_book_objects_carry_every_column_exactly(client, auth, catalogue, db_url):
    import migrations

    conn = migrations.connect(db_url)
    columns = [row[0] for row in query(conn, "SELECT column_name FROM information_schema.columns"
                                             " WHERE table_name = 'books' AND table_schema = 'public'")]
    conn.close()
    response = client.get(LIST, query_string={"limit": 100}, headers=auth)
    items = json.loads(response.get_data(as_text=True), parse_float=Decimal)["items"]
    assert set(columns) | {"category", "category_slug"} == set(items[0])
    for item in items:
        book = catalogue.books[item["id"]]
        assert (item["title"], item["upc"], item["category"], item["availability"], item["rating"],
                item["review_count"], item["description"]) == (
            book.title, book.upc, book.category, book.availability, book.rating, book.review_count, book.description)
        # Money: JSON numbers whose text is the stored amount, to the cent.
        assert item["price"] == item["price_incl_tax"] == book.price_incl_tax
        assert (item["price_excl_tax"], item["tax"]) == (book.price_excl_tax, book.tax)
        assert item["url"].endswith(f"_{book.id}/index.html") and item["removed_at"] is None


FILTERS = [
    ({"category": "Historical Fiction"}, lambda b: b.category == "Historical Fiction"),
    ({"category": "historical fiction"}, lambda b: b.category == "Historical Fiction"),
    ({"category": "historical-fiction"}, lambda b: b.category == "Historical Fiction"),
    ({"category": "Add a comment"}, lambda b: b.category == "Add a comment"),
    ({"category": "no such category"}, lambda b: False),
    ({"min_price": "30"}, lambda b: b.price_incl_tax >= 30),
    ({"max_price": "30.5"}, lambda b: b.price_incl_tax <= Decimal("30.5")),
    ({"min_price": "20.005", "max_price": "40.995"}, lambda b: Decimal("20.01") <= b.price_incl_tax <= Decimal("40.99")),
    ({"min_price": "25", "max_price": "25"}, lambda b: b.price_incl_tax == 25),
    ({"rating": "3"}, lambda b: b.rating == 3),
    ({"min_rating": "4"}, lambda b: b.rating >= 4),
    ({"in_stock": "true"}, lambda b: b.availability > 0),
    ({"in_stock": "false"}, lambda b: b.availability == 0),
    ({"q": "garden"}, lambda b: "garden" in b.title.lower()),
    ({"q": "ÜBER"}, lambda b: "über" in b.title.lower()),
    ({"q": "%"}, lambda b: "%" in b.title),
    ({"q": "_"}, lambda b: "_" in b.title),
    ({"q": "\\"}, lambda b: "\\" in b.title),
    ({"q": '"no" &'}, lambda b: '"no" &' in b.title.lower()),
    ({"category": "poetry", "min_rating": "2", "in_stock": "true", "max_price": "45"},
     lambda b: b.category == "Poetry" and b.rating >= 2 and b.availability > 0 and b.price_incl_tax <= 45),
]


@pytest.mark.parametrize("params, keep", FILTERS, ids=[json.dumps(p) for p, _ in FILTERS])
def test_filter_returns_exactly_the_matching_books(client, auth, catalogue, params, keep):
    expected = matching(catalogue, keep)
    items = walk(client, auth, limit=100, **params)
    assert sorted(ids(items)) == sorted(expected)
    assert len(ids(items)) == len(set(ids(items)))
    if params != {"category": "no such category"}:
        assert expected, "a filter test needs matching books"
    total = client.get(LIST, query_string=params, headers=auth).get_json()["total"]
    assert total == len(expected)


def test_removed_books_only_with_include_removed(client, auth, catalogue):
    listed = walk(client, auth, limit=100)
    assert not set(ids(listed)) & catalogue.removed
    everything = walk(client, auth, limit=100, include_removed="true")
    assert sorted(ids(everything)) == sorted(catalogue.books)
    removed = [item for item in everything if item["id"] in catalogue.removed]
    assert len(removed) == 40 and all(item["removed_at"] for item in removed)
    assert ids(walk(client, auth, limit=100, include_removed="false")) == ids(listed)
    page = client.get(LIST, query_string={"include_removed": "true", "min_price": "50"}, headers=auth).get_json()
    assert page["total"] == len(matching(catalogue, lambda b: b.price_incl_tax >= 50, include_removed=True))


def _expected_order(catalogue, db_url, sort: str, ids_kept: set[int]) -> list[int]:
    field, descending = sort.lstrip("-"), sort.startswith("-")
    if field == "title":  # the database's collation decides; ask it directly
        import migrations

        conn = migrations.connect(db_url)
        order = [r[0] for r in query(conn, f"SELECT id FROM books ORDER BY title {'DESC' if descending else ''},"
                                           f" id {'DESC' if descending else ''}")]
        conn.close()
        return [i for i in order if i in ids_kept]
    value = {"id": lambda b: b.id, "price": lambda b: b.price_incl_tax, "rating": lambda b: b.rating,
             "availability": lambda b: b.availability}[field]
    return sorted(ids_kept, key=lambda i: (value(catalogue.books[i]), i), reverse=descending)


WALKS = [
    ("id", 20, {}), ("-id", 7, {}), ("title", 100, {}), ("-title", 33, {}), ("price", 50, {}),
    ("-price", 13, {}), ("rating", 64, {}), ("-rating", 100, {}), ("availability", 9, {}),
    ("-availability", 100, {}), ("-price", 10, {"min_rating": "3", "in_stock": "true"}),
    ("title", 5, {"category": "fantasy"}), ("-rating", 11, {"include_removed": "true"}),
    ("availability", 1, {"category": "Crime", "max_price": "40"}),
]


@pytest.mark.parametrize("sort, limit, filters", WALKS, ids=[f"{s}-{n}-{json.dumps(f)}" for s, n, f in WALKS])
def test_cursor_walk_visits_each_book_once_in_order(client, auth, catalogue, db_url, sort, limit, filters):
    include_removed = filters.get("include_removed") == "true"
    keep = {i for i in (catalogue.books if include_removed else catalogue.listed)}
    if filters and not include_removed:
        keep = {item["id"] for item in walk(client, auth, limit=100, **filters)}
    items = walk(client, auth, sort=sort, limit=limit, **filters)
    assert ids(items) == _expected_order(catalogue, db_url, sort, keep)
    if not filters:
        assert len(items) == 960


def test_walk_all_1000_with_removed(client, auth, catalogue):
    items = walk(client, auth, sort="-price", limit=100, include_removed="true")
    assert len(items) == len(set(ids(items))) == 1000


def test_cursor_is_bound_to_its_listing(client, auth, catalogue):
    cursor = client.get(LIST, query_string={"sort": "price"}, headers=auth).get_json()["next_cursor"]
    ok = client.get(LIST, query_string={"sort": "price", "cursor": cursor, "limit": 5}, headers=auth)
    assert ok.status_code == 200  # the page size may change between pages
    for other in ({"sort": "-price"}, {"sort": "rating"}, {"sort": "price", "rating": "3"}):
        assert_error(client.get(LIST, query_string={**other, "cursor": cursor}, headers=auth), 400, "cursor")


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJrIjpbXSwiZiI6IngifQ", "!!!", "a" * 500,
                                    # well-formed JSON with the wrong key types
                                    "eyJrIjpbIngiLDFdLCJmIjoiMCJ9", "eyJrIjpbMS41LDFdLCJmIjoiMCJ9"])
def test_bad_cursor(client, auth, catalogue, cursor):
    assert_error(client.get(LIST, query_string={"sort": "price", "cursor": cursor}, headers=auth), 400, "cursor")


BAD = [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "2.5"}, "limit"), ({"min_price": "abc"}, "min_price"), ({"min_price": "-1"}, "min_price"),
    ({"max_price": "NaN"}, "max_price"), ({"max_price": "Infinity"}, "max_price"),
    ({"min_price": "1e999999999"}, "min_price"), ({"max_price": "1e30"}, "max_price"),
    ({"min_price": "50", "max_price": "10"}, "max_price"), ({"rating": "0"}, "rating"),
    ({"rating": "6"}, "rating"), ({"rating": "three"}, "rating"), ({"min_rating": "9"}, "min_rating"),
    ({"in_stock": "maybe"}, "in_stock"), ({"include_removed": "2"}, "include_removed"),
    ({"sort": "upc"}, "sort"), ({"sort": "price; DROP TABLE books"}, "sort"), ({"sort": "--price"}, "sort"),
    ({"q": ""}, "q"), ({"q": "x" * 201}, "q"), ({"category": ""}, "category"),
]


@pytest.mark.parametrize("params, field", BAD, ids=[json.dumps(p) for p, _ in BAD])
def test_invalid_values_get_400_per_field(client, auth, catalogue, params, field):
    body = assert_error(client.get(LIST, query_string=params, headers=auth), 400, field)
    assert all(isinstance(m, str) for m in body["errors"][field])


def test_several_invalid_values_all_reported(client, auth, catalogue):
    body = assert_error(client.get(LIST, query_string={"limit": "0", "rating": "x", "sort": "nope"}, headers=auth),
                        400, "limit", "rating", "sort")
    assert set(body["errors"]) == {"limit", "rating", "sort"}


def test_unknown_and_repeated_parameters(client, auth, catalogue):
    body = assert_error(client.get(LIST, query_string={"price": "1", "pages": "2", "limit": "5"}, headers=auth),
                        400, "price", "pages")
    assert set(body["errors"]) == {"price", "pages"}
    assert_error(client.get(f"{LIST}?rating=3&rating=4", headers=auth), 400, "rating")


def test_book_detail(client, auth, catalogue):
    book = catalogue.books[20]
    item = json.loads(client.get(f"{LIST}/20", headers=auth).get_data(as_text=True), parse_float=Decimal)
    assert (item["id"], item["title"], item["price"], item["availability"]) == (
        20, book.title, book.price_incl_tax, book.availability)
    removed = client.get(f"{LIST}/25", headers=auth).get_json()
    assert removed["id"] == 25 and removed["removed_at"]


@pytest.mark.parametrize("path", ["/0", "/1001", "/2147483647", "/2147483648", "/99999999999999999999", "/-1",
                                  "/abc", "/1.5", "/0/history", "/5000/history", "/99999999999/history"])
def test_unknown_book_is_404(client, auth, catalogue, path):
    assert_error(client.get(LIST + path, headers=auth), 404)


def test_history_records_each_version(client, auth, catalogue):
    changed = sorted(catalogue.changed)[0]
    body = json.loads(client.get(f"{LIST}/{changed}/history", headers=auth).get_data(as_text=True),
                      parse_float=Decimal)
    assert body["book_id"] == changed
    first, current = body["items"]
    book = catalogue.books[changed]
    assert (current["price"], current["availability"], current["valid_to"]) == (
        book.price_incl_tax, book.availability, None)
    assert first["price"] == book.price_incl_tax - Decimal("1.01") and first["valid_to"] == current["valid_from"]
    assert (first["run_id"], current["run_id"]) == tuple(catalogue.runs)
    unchanged = next(i for i in sorted(catalogue.listed) if i not in catalogue.changed)
    assert len(client.get(f"{LIST}/{unchanged}/history", headers=auth).get_json()["items"]) == 1


def test_detail_and_history_reject_query_parameters(client, auth, catalogue):
    assert_error(client.get(f"{LIST}/20", query_string={"x": "1"}, headers=auth), 400, "x")
    assert_error(client.get(f"{LIST}/20/history", query_string={"limit": "1"}, headers=auth), 400, "limit")


def test_empty_catalogue(db, client, auth):  # db first: it empties the users too
    assert client.get(LIST, headers=auth).get_json() == {"items": [], "next_cursor": None, "total": 0,
                                                         "total_is_estimate": False}
