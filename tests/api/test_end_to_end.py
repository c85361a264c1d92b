"""The issue's "done when": a real crawl of a 1000-book local site, a user made by
the CLI, and a cursor walk through the API under the read-only role."""

from __future__ import annotations

import json
from decimal import Decimal

from api.db import close_pool
from tests.api.helpers import make_app, walk
from tests.sites.books import BooksSite, generate_books, serve


def test_crawl_then_walk_every_book_through_the_api(db, crawl, db_url, reader_url):
    site = BooksSite(generate_books(1000, seed=11))
    with serve(site) as base_url:
        result = crawl("books", args={"start_url": base_url + "index.html"})
    assert result.returncode == 0, result.stderr[-3000:]

    admin = make_app(db_url)
    created = admin.test_cli_runner().invoke(args=["create-user", "analyst"], input="a fine password\n")
    assert created.exit_code == 0, created.output
    close_pool(admin)

    app = make_app(reader_url)  # the API itself runs as api_reader
    client = app.test_client()
    tokens = client.post("/api/v1/auth/login", json={"username": "analyst", "password": "a fine password"})
    headers = {"Authorization": f"Bearer {tokens.get_json()['access_token']}"}
    items = walk(client, headers, sort="-price", limit=37)
    assert sorted(item["id"] for item in items) == sorted(site.books) and len(items) == 1000
    by_id = {item["id"]: item for item in
             json.loads(json.dumps(items), parse_float=Decimal)}  # exact amounts, as sent
    for book in site.books.values():
        item = by_id[book.id]
        assert (item["title"], item["upc"], item["category"], item["price"], item["tax"], item["availability"],
                item["rating"], item["description"]) == (book.title, book.upc, book.category, book.price_incl_tax,
                                                         book.tax, book.availability, book.rating, book.description)
        assert item["url"] == base_url + book.path
    poetry = walk(client, headers, category="poetry", in_stock="true", limit=100)
    assert sorted(i["id"] for i in poetry) == sorted(
        b.id for b in site.books.values() if b.category == "Poetry" and b.availability > 0)
    close_pool(app)
