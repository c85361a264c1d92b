"""/api/v1/categories against figures computed from the catalogue itself."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.api.helpers import assert_error, by_category, cents


def test_categories(client, auth, catalogue):
    body = json.loads(client.get("/api/v1/categories", headers=auth).get_data(as_text=True), parse_float=Decimal)
    items = body["items"]
    assert [c["name"] for c in items] == sorted(c["name"] for c in items)
    groups = by_category(catalogue.listed)
    assert {c["name"] for c in items} == set(by_category(catalogue.books))
    for category in items:
        books = groups.get(category["name"], [])
        prices = [b.price_incl_tax for b in books]
        assert category["book_count"] == len(books)
        assert category["min_price"] == min(prices) and category["max_price"] == max(prices)
        assert category["avg_price"] == cents(sum(prices) / len(prices))
    historical = next(c for c in items if c["name"] == "Historical Fiction")
    assert historical["slug"] == "historical-fiction"


def test_categories_reject_parameters(client, auth, catalogue):
    assert_error(client.get("/api/v1/categories?sort=name", headers=auth), 400, "sort")


def test_no_categories(db, client, auth):
    assert client.get("/api/v1/categories", headers=auth).get_json() == {"items": []}
