"""books.toscrape.com: every listing page, every product page, one item per book."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import scrapy
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scrapy.exceptions import CloseSpider
from scrapy_spider_metadata import Args

from crawler.items import BookItem
from crawler.spiders.base import ProjectSpider
from crawler.spiders.params import SiteUrl

RATINGS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}
_PRODUCT_ID = re.compile(r"_(\d+)/(?:index\.html)?$")
_CATEGORY_SLUG = re.compile(r"/category/books/([^/]+?)_\d+/")
_IN_STOCK = re.compile(r"\((\d+) available\)")
_RESULTS = re.compile(r"<strong>(\d+)</strong>\s*results?\b")
_PAGE_OF = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)")
PER_PAGE = 20  # products on every listing page but the last


class BooksArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_url: SiteUrl = Field(
        default="https://books.toscrape.com/index.html",
        title="Start URL",
        description="Home page of the site to crawl; point it at a local copy for tests and benchmarks.",
    )
    category: str | None = Field(
        default=None,
        title="Category",
        description='Crawl only this category, by name ("Historical Fiction") or slug '
        '("historical-fiction"); all categories when unset.',
    )

    @field_validator("category")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value else value


def slugify(name: str) -> str:
    """The site's category slug without its numeric suffix (same rule as categories.slug)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class BooksSpider(Args[BooksArgs], ProjectSpider):
    """Completeness: the first listing declares the result count and "Page 1 of M"; every
    listing must show 20 products (the last one the rest) and a next link before page M;
    every product page its details table, its footer and its closing tag."""

    name = "books"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_domains = [urlsplit(self.args.start_url).hostname]

    @property
    def complete_crawl(self) -> bool:
        """Whether this run visits the whole catalogue, so a book it misses was removed."""
        return self.args.category is None

    @property
    def expected_items(self) -> int | None:
        return self.declared.get("books")  # the first listing's result count (of the category, if one)

    async def start(self):
        yield scrapy.Request(self.args.start_url, callback=self.parse_home, errback=self.start_failed)

    def page_problem(self, request, response) -> str | None:
        if request.callback == self.parse_book:
            return _product_problem(response)
        if request.callback in (self.parse_home, self.parse_listing):
            return _listing_problem(response)
        return None  # not a page of the catalogue (robots.txt)

    def parse_home(self, response):
        if self.args.category is None:
            yield from self.parse_listing(response)
            return
        wanted = slugify(self.args.category)
        for link in response.css(".side_categories ul ul a"):
            name = " ".join(link.css("::text").get("").split())
            href = link.attrib.get("href", "")
            slug = m.group(1) if (m := _CATEGORY_SLUG.search("/" + href)) else slugify(name)
            if wanted in (slugify(name), slug):
                yield response.follow(link, callback=self.parse_listing)
                return
        self.logger.error("category argument %r matches no category on %s", self.args.category, response.url)
        raise CloseSpider("unknown_category")

    def parse_listing(self, response):
        problem = _listing_problem(response)
        self.page_read(response, "listing pages", problem)  # what a broken one does list is still followed
        if not problem:
            total, _, pages = _declared(response)
            self.declare("books", total)
            self.declare("listing pages", pages)
            self.saw("listing pages")
        for href in response.css("ol.row article.product_pod h3 a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_book)
        if next_page := response.css("li.next > a::attr(href)").get():
            yield response.follow(next_page, callback=self.parse_listing)

    def parse_book(self, response):
        problem = _product_problem(response)
        self.page_read(response, "product pages", problem)
        if problem:
            return
        self.saw("books")
        # The live server sends no charset; the pages are UTF-8 whatever a decoder guesses. Their meta
        # tag says so, so this is rare: a replaced response is parsed a second time.
        if response.encoding != "utf-8":
            response = response.replace(encoding="utf-8")
        table = {
            " ".join(row.css("th ::text").getall()).strip(): " ".join(row.css("td ::text").getall()).strip()
            for row in response.css("table.table-striped tr")
        }
        main = response.css("div.product_main")
        rating_classes = (main.css("p.star-rating::attr(class)").get() or "").split()
        description = response.css("div#product_description + p::text").get()
        image = response.css("#product_gallery img::attr(src)").get()
        yield BookItem(
            id=int(m.group(1)) if (m := _PRODUCT_ID.search(response.url)) else None,
            upc=table.get("UPC") or None,
            title=" ".join(main.css("h1::text").get("").split()) or None,
            category=_text(response.css("ul.breadcrumb li:nth-child(3) a::text").get()),
            price=_money(table.get("Price (incl. tax)") or main.css("p.price_color::text").get()),
            price_excl_tax=_money(table.get("Price (excl. tax)")),
            price_incl_tax=_money(table.get("Price (incl. tax)")),
            tax=_money(table.get("Tax")),
            availability=_stock(table.get("Availability")),
            rating=next((RATINGS[c] for c in rating_classes if c in RATINGS), None),
            review_count=_int(table.get("Number of reviews")),
            description=_text(description),
            image_url=response.urljoin(image) if image else None,
            url=response.url,
            scraped_at=datetime.now(timezone.utc),
        )


def _declared(response) -> tuple[int | None, int, int]:
    """(result count, page number, page count) a listing declares; one page when it has no pager."""
    results = _RESULTS.search(response.text)
    page_of = _PAGE_OF.search(response.text)
    page, pages = (int(page_of.group(1)), int(page_of.group(2))) if page_of else (1, 1)
    return (int(results.group(1)) if results else None), page, pages


def _product_problem(response) -> str | None:
    """How a product page shows it was cut short, or None."""
    if not response.body.rstrip().endswith(b"</html>"):
        return "document ends before </html>"
    if not response.css("table.table-striped"):
        return "no product details table"
    return None if response.css("footer") else "no footer"


def _listing_problem(response) -> str | None:
    """How a listing contradicts what it declares, or None."""
    if not response.body.rstrip().endswith(b"</html>"):
        return "document ends before </html>"
    total, page, pages = _declared(response)
    if total is None:
        return "no result count"
    expected = PER_PAGE if page < pages else total - PER_PAGE * (pages - 1)
    shown = len(response.css("ol.row article.product_pod"))
    if shown != expected:
        return f"{shown} products where page {page} of {pages} of {total} results has {expected}"
    if page < pages and not response.css("li.next > a"):
        return f"no next link on page {page} of {pages}"
    return None


def _text(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def _money(value: str | None) -> Decimal | None:
    """'£51.77' -> Decimal('51.77'); None when absent or unreadable (validation rejects it)."""
    if not value:
        return None
    try:
        return Decimal(re.sub(r"[^\d.\-]", "", value))
    except InvalidOperation:
        return None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _stock(value: str | None) -> int | None:
    """'In stock (22 available)' -> 22; 'Unavailable' or 'Out of stock' (django-oscar's wording) -> 0."""
    if not value:
        return None
    if m := _IN_STOCK.search(value):
        return int(m.group(1))
    return 0 if value.strip().lower() in ("unavailable", "out of stock") else None
