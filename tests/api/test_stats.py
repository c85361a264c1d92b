"""/api/v1/stats and /api/v1/stats/categories against the catalogue."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.api.helpers import assert_error, by_category, cents
from tests.api.fill import load_books
from tests.sites.books import generate_books


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


def test_book_figures_are_the_listed_books_summed(client, auth, catalogue):
    figures = get(client, auth, "/api/v1/stats/books")
    listed = list(catalogue.listed.values())
    assert (figures["books"], figures["units"]) == (960, sum(b.availability for b in listed))
    assert figures["avg_price"] == cents(sum(b.price_incl_tax for b in listed) / len(listed))
    width = figures["bucket_width"]

    def bucket(book):
        low = book.price_incl_tax // width * width
        return low, low + width

    expected = {}
    for book in listed:
        key = (book.category, *bucket(book))
        expected[key] = expected.get(key, 0) + 1
    assert {(r["category"], r["low"], r["high"]): r["books"] for r in figures["price_histogram"]} == expected
    assert sum(r["books"] for r in figures["rating_price"]) == 960
    assert {r["rating"]: r["books"] for r in figures["ratings"]} == {
        r: sum(b.rating == r for b in listed) for r in range(1, 6)}
    groups = by_category(catalogue.listed)
    assert {r["category"]: (r["in_stock"], r["out_of_stock"], r["units"]) for r in figures["stock"]} == {
        name: (sum(b.availability > 0 for b in books), sum(b.availability == 0 for b in books),
               sum(b.availability for b in books)) for name, books in groups.items()}


def test_book_figures_filters(client, auth, catalogue):
    name, books = max(by_category(catalogue.listed).items(), key=lambda entry: len(entry[1]))
    slug = get(client, auth, "/api/v1/stats/books")["stock"][0]["category_slug"]
    figures = get(client, auth, f"/api/v1/stats/books?category={name.upper()}&min_rating=3&in_stock=true")
    kept = [b for b in books if b.rating >= 3 and b.availability > 0]
    assert figures["books"] == len(kept) and {r["category"] for r in figures["price_histogram"]} == {name}
    assert [r["rating"] for r in figures["ratings"]] == sorted({b.rating for b in kept})
    assert get(client, auth, f"/api/v1/stats/books?category={slug}")["books"] > 0
    assert get(client, auth, "/api/v1/stats/books?category=nope")["books"] == 0
    assert_error(client.get("/api/v1/stats/books?min_rating=6", headers=auth), 400, "min_rating")


def test_book_changes_per_day(client, auth, catalogue):
    days = get(client, auth, "/api/v1/stats/books/changes")["items"]
    assert len(days) == 1  # both runs today
    today = days[0]
    # Every 20th book got dearer by 1.01 (those also removed count too: their history moved first).
    changed = {b for b in catalogue.books if b % 20 == 0} - catalogue.removed
    assert (today["added"], today["removed"]) == (1000, 40)
    assert (today["price_up"], today["price_down"]) == (len(changed), 0)
    assert today["price_delta"] == Decimal("1.01") * len(changed)
    assert get(client, auth, f"/api/v1/stats/books/changes?since={today['day']}")["items"] == days
    assert get(client, auth, "/api/v1/stats/books/changes?since=2999-01-01")["items"] == []
    assert_error(client.get("/api/v1/stats/books/changes?since=yesterday", headers=auth), 400, "since")


def test_the_summaries_follow_each_merge(db, client, auth):
    books = generate_books(30)
    load_books(db, books)
    assert get(client, auth, "/api/v1/stats/books")["books"] == 30
    load_books(db, books[1:])  # complete: the first one removed
    assert get(client, auth, "/api/v1/stats/books")["books"] == 29
    assert get(client, auth, "/api/v1/stats/books/changes")["items"][0]["removed"] == 1
