"""Fill the books tables the way a crawl does: the items a crawl of ``SITE`` would yield, through the store."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from crawler.items import BookItem
from tests.crawler.helpers import store_run

SITE = "http://books.test/"


def book_item(book, scraped_at: datetime) -> BookItem:
    """A tests.sites.books.SiteBook as the spider would have yielded it."""
    return BookItem(id=book.id, upc=book.upc, title=book.title, category=book.category, price=book.price_incl_tax,
                    price_excl_tax=book.price_excl_tax, price_incl_tax=book.price_incl_tax, tax=book.tax,
                    availability=book.availability, rating=book.rating, review_count=book.review_count,
                    description=book.description, image_url=SITE + book.image_path, url=SITE + book.path,
                    scraped_at=scraped_at)


def load_books(conn, books, *, complete: bool = True, spider: str = "books") -> int:
    """Stage ``books`` in a new crawl run, merge it, close the run; return its id."""
    now = datetime.now(timezone.utc)
    return store_run(conn, spider, BookItem, [dataclasses.asdict(book_item(b, now)) for b in books], complete=complete)
