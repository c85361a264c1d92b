"""/api/v1/stats and /api/v1/stats/categories against the catalogue."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.api.helpers import by_category, cents


def get(client, auth, path):
    return json.loads(client.get(path, headers=auth).get_data(as_text=True), parse_float=Decimal)


def test_stats(client, auth, catalogue):
    stats = get(client, auth, "/api/v1/stats")
    listed = list(catalogue.listed.values())
    prices = [b.price_incl_tax for b in listed]
    assert stats["books"] == 960 and stats["removed"] == 40
    assert stats["in_stock"] == sum(b.availability > 0 for b in listed)
    assert stats["out_of_stock"] == sum(b.availability == 0 for b in listed)
    assert stats["units"] == sum(b.availability for b in listed)
    assert stats["categories"] == len(by_category(catalogue.listed))
    assert stats["price"] == {"min": min(prices), "max": max(prices), "avg": cents(sum(prices) / len(prices))}
    assert stats["rating_distribution"] == {str(r): sum(b.rating == r for b in listed) for r in range(1, 6)}
    assert stats["last_crawl"]["id"] == catalogue.runs[-1]
    assert stats["last_crawl"]["removed"] == 40 and stats["last_crawl"]["status"] == "finished"


def test_category_stats(client, auth, catalogue):
    items = get(client, auth, "/api/v1/stats/categories")["items"]
    assert [c["book_count"] for c in items] == sorted((c["book_count"] for c in items), reverse=True)
    groups = by_category(catalogue.listed)
    assert sum(c["book_count"] for c in items) == 960
    for category in items:
        books = groups[category["name"]]
        assert category["in_stock"] == sum(b.availability > 0 for b in books)
        assert category["units"] == sum(b.availability for b in books)
        assert category["avg_rating"] == cents(Decimal(sum(b.rating for b in books)) / len(books))


def test_stats_of_an_empty_database(db, client, auth):
    stats = client.get("/api/v1/stats", headers=auth).get_json()
    assert stats["books"] == 0 and stats["price"] == {"min": None, "max": None, "avg": None}
    assert stats["rating_distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    assert stats["last_crawl"] is None
