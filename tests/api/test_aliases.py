"""The brief's endpoint names answer exactly like their long forms: same pages, cursors, totals and errors."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_error

ALIASES = [  # (alias, its query, the long form, its query)
    ("/api/v1/books/search", {"title": "the"}, "/api/v1/books", {"q": "the"}),
    ("/api/v1/books/search", {"category": "Poetry"}, "/api/v1/books", {"category": "Poetry"}),
    ("/api/v1/books/search", {"title": "a", "category": "historical-fiction", "limit": 5},
     "/api/v1/books", {"q": "a", "category": "historical-fiction", "limit": 5}),
    ("/api/v1/books/search", {"title": "100% Pure_Joy \\"}, "/api/v1/books", {"q": "100% Pure_Joy \\"}),
    ("/api/v1/books/search", {}, "/api/v1/books", {}),
    ("/api/v1/books/top-rated", {"limit": 7}, "/api/v1/books", {"sort": "-rating", "limit": 7}),
    ("/api/v1/books/price-range", {"min": "20", "max": "30.50"}, "/api/v1/books",
     {"min_price": "20", "max_price": "30.50"}),
    ("/api/v1/books/price-range", {"max": "15"}, "/api/v1/books", {"max_price": "15"}),
    ("/api/v1/stats/overview", {}, "/api/v1/stats", {}),
]


def walk_pages(client, auth, path, query, limit=50):
    """Every page of a listing, following next_cursor."""
    pages, cursor = [], None
    while True:
        response = client.get(path, query_string={**query, "limit": limit, **({"cursor": cursor} if cursor else {})},
                              headers=auth)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


@pytest.mark.parametrize("alias, query, long_form, long_query", ALIASES)
def test_alias_answers_like_its_long_form(client, auth, catalogue, alias, query, long_form, long_query):
    short = client.get(alias, query_string=query, headers=auth)
    long = client.get(long_form, query_string=long_query, headers=auth)
    assert short.status_code == long.status_code == 200
    assert short.get_json() == long.get_json()
    # The same data versions, and the alias revalidates like its long form.
    assert short.headers["X-Data-Version"] == long.headers["X-Data-Version"]
    again = client.get(alias, query_string=query, headers={**auth, "If-None-Match": short.headers["ETag"]})
    assert again.status_code == 304


def test_search_filters_are_case_insensitive_and_combine(client, auth, catalogue):
    found = walk_pages(client, auth, "/api/v1/books/search", {"title": "THE", "category": "POETRY"})
    items = [book for page in found for book in page["items"]]
    expected = {b.id for b in catalogue.listed.values() if "the" in b.title.lower() and b.category == "Poetry"}
    assert {book["id"] for book in items} == expected and found[0]["total"] == len(expected)


def test_top_rated_walks_every_book_highest_first(client, auth, catalogue):
    items = [book for page in walk_pages(client, auth, "/api/v1/books/top-rated", {}) for book in page["items"]]
    assert len(items) == len(catalogue.listed)
    keys = [(book["rating"], book["id"]) for book in items]
    assert keys == sorted(keys, reverse=True)


def test_price_range_is_inclusive_in_listing_order(client, auth, catalogue):
    low, high = sorted({b.price_incl_tax for b in catalogue.listed.values()})[10:12]
    items = [book for page in walk_pages(client, auth, "/api/v1/books/price-range", {"min": low, "max": high})
             for book in page["items"]]
    expected = sorted(b.id for b in catalogue.listed.values() if low <= b.price_incl_tax <= high)
    assert [book["id"] for book in items] == expected and len(expected) >= 2


def test_cursors_page_the_long_form_too(client, auth, catalogue):
    first = client.get("/api/v1/books/top-rated", query_string={"limit": 3}, headers=auth).get_json()
    from_long = client.get("/api/v1/books", query_string={"sort": "-rating", "limit": 3,
                                                          "cursor": first["next_cursor"]}, headers=auth)
    from_alias = client.get("/api/v1/books/top-rated", query_string={"limit": 3, "cursor": first["next_cursor"]},
                            headers=auth)
    assert from_long.get_json() == from_alias.get_json()
    other = client.get("/api/v1/books/search", query_string={"title": "a", "limit": 3}, headers=auth).get_json()
    assert_error(client.get("/api/v1/books/top-rated", query_string={"cursor": other["next_cursor"]}, headers=auth),
                 400, "cursor")


@pytest.mark.parametrize("path, query, fields", [
    ("/api/v1/books/search", {"q": "x"}, ("q",)),  # the long form's name is not the brief's
    ("/api/v1/books/search", {"title": ""}, ("title",)),
    ("/api/v1/books/search", "title=a&title=b", ("title",)),
    ("/api/v1/books/top-rated", {"limit": 0}, ("limit",)),
    ("/api/v1/books/top-rated", {"sort": "price"}, ("sort",)),
    ("/api/v1/books/top-rated", {"cursor": "not-a-cursor"}, ("cursor",)),
    ("/api/v1/books/price-range", {"min": "abc"}, ("min",)),
    ("/api/v1/books/price-range", {"min": "-1"}, ("min",)),
    ("/api/v1/books/price-range", {"min": "30", "max": "20"}, ("max",)),
    ("/api/v1/books/price-range", {"min_price": "3"}, ("min_price",)),
    ("/api/v1/stats/overview", {"x": "1"}, ("x",)),
])
def test_aliases_reject_bad_input_like_the_long_forms(client, auth, catalogue, path, query, fields):
    assert_error(client.get(path, query_string=query, headers=auth), 400, *fields)


@pytest.mark.parametrize("path", ["/api/v1/books/search", "/api/v1/books/top-rated", "/api/v1/books/price-range",
                                  "/api/v1/stats/overview"])
def test_aliases_need_a_token_and_are_documented(client, path):
    assert_error(client.get(path), 401)
    operation = client.get("/api/v1/openapi.json").get_json()["paths"][path]["get"]
    assert "brief" in operation["description"] and operation["security"] == [{"bearer": []}]


def test_alias_parameters_are_the_briefs(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    def names(path):
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    assert names("/api/v1/books/search") == {"title", "category", "limit", "cursor"}
    assert names("/api/v1/books/top-rated") == {"limit", "cursor"}
    assert names("/api/v1/books/price-range") == {"min", "max", "limit", "cursor"}
    assert "parameters" not in paths["/api/v1/stats/overview"]["get"] or \
        not paths["/api/v1/stats/overview"]["get"]["parameters"]
