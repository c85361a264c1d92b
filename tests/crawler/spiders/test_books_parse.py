"""The books spider's parsing, on the real saved pages (tests/fixtures; skipped when absent)."""

from __future__ import annotations

import csv
import functools
import re
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.spiders.books import BooksSpider
from tests.fixtures import BOOKS, needs_books

SITE = BOOKS / "site"
pytestmark = needs_books
RATINGS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}


def response_for(path: Path, url: str) -> HtmlResponse:
    # As the live server: bytes without a charset in Content-Type.
    return HtmlResponse(url=url, body=path.read_bytes(), headers={"Content-Type": "text/html"})


def spider() -> BooksSpider:
    return BooksSpider.from_crawler(get_crawler(BooksSpider))


@functools.cache
def expected_books() -> dict[int, dict]:
    with (BOOKS / "books.csv").open(encoding="utf-8") as f:
        return {int(re.search(r"_(\d+)/index.html$", row["product_page_url"]).group(1)): row for row in csv.DictReader(f)}


def product_pages() -> list[Path]:
    return sorted(SITE.glob("catalogue/*/index.html")) if SITE.is_dir() else []


@pytest.mark.parametrize("page", product_pages(), ids=lambda p: p.parent.name)
def test_every_real_product_page_parses_to_the_published_values(page):
    url = f"https://books.toscrape.com/catalogue/{page.parent.name}/index.html"
    (item,) = spider().parse_book(response_for(page, url))
    row = expected_books()[item.id]

    assert item.url == row["product_page_url"]
    assert item.upc == row["upc"]
    assert item.title == row["title"]
    assert item.category == row["category"]
    assert item.price == item.price_incl_tax == Decimal(row["price_including_tax"].lstrip("£"))
    assert item.price_excl_tax == Decimal(row["price_excluding_tax"].lstrip("£"))
    assert item.tax == item.price_incl_tax - item.price_excl_tax
    assert item.availability == int(re.search(r"\d+", row["number_available"]).group())
    assert item.rating == RATINGS[row["review_rating"]]
    assert item.review_count == 0
    assert item.description == (" ".join(row["product_description"].split()) or None)
    assert item.image_url == row["image_url"]
    assert item.scraped_at.tzinfo is not None


def test_text_is_decoded_as_utf8_not_latin1():
    page = SITE / "catalogue" / "a-light-in-the-attic_1000" / "index.html"
    (item,) = spider().parse_book(response_for(page, "https://books.toscrape.com/catalogue/a-light-in-the-attic_1000/index.html"))
    assert item.price == Decimal("51.77")
    assert "Â" not in repr(item)


def test_book_without_description_has_none():
    (page,) = SITE.glob("catalogue/*_840/index.html")
    (item,) = spider().parse_book(response_for(page, f"https://books.toscrape.com/catalogue/{page.parent.name}/index.html"))
    assert item.description is None


def test_home_page_yields_its_20_books_and_the_next_page_only():
    requests = list(spider().parse_listing(response_for(SITE / "index.html", "https://books.toscrape.com/index.html")))
    products = [r.url for r in requests if r.callback.__name__ == "parse_book"]
    pages = [r.url for r in requests if r.callback.__name__ == "parse_listing"]
    assert len(products) == 20 and products[0] == "https://books.toscrape.com/catalogue/a-light-in-the-attic_1000/index.html"
    assert pages == ["https://books.toscrape.com/catalogue/page-2.html"]


@pytest.mark.parametrize("category, expected", [
    ("Historical Fiction", "https://books.toscrape.com/catalogue/category/books/historical-fiction_4/index.html"),
    ("historical-fiction", "https://books.toscrape.com/catalogue/category/books/historical-fiction_4/index.html"),
    ("add a COMMENT", "https://books.toscrape.com/catalogue/category/books/add-a-comment_18/index.html"),
])
def test_category_argument_selects_the_category_listing(category, expected):
    spider = BooksSpider(category=category)
    (request,) = spider.parse_home(response_for(SITE / "index.html", "https://books.toscrape.com/index.html"))
    assert request.url == expected


def test_product_page_links_are_not_followed():
    """The "recently viewed" cards on a product page are other books: nothing is requested from them."""
    page = SITE / "catalogue" / "a-fierce-and-subtle-poison_875" / "index.html"
    assert page.read_bytes().count(b"article class=\"product_pod\"") == 6
    results = list(spider().parse_book(response_for(page, "https://books.toscrape.com/catalogue/a-fierce-and-subtle-poison_875/index.html")))
    assert len(results) == 1 and not hasattr(results[0], "callback")
