"""The books spider's completeness checks, in-process: pages that contradict themselves, and the run's outcome."""

from __future__ import annotations

import pytest
import scrapy
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler import outcome
from crawler.spiders.books import BooksSpider
from tests.sites.books import BooksSite, generate_books
from tests.sites.books.site import cut

SITE = BooksSite(generate_books(50, seed=31))  # listing pages 1 and 2 of 3 are full, page 3 has 10 books


@pytest.fixture
def spider() -> BooksSpider:
    crawler = get_crawler(BooksSpider)
    crawler.spider = crawler._create_spider(start_url="http://127.0.0.1/index.html")
    return crawler.spider


def page(spider, path: str, body: bytes | None = None) -> tuple[scrapy.Request, HtmlResponse]:
    callback = spider.parse_book if path.count("/") == 2 and "category" not in path else spider.parse_listing
    request = scrapy.Request("http://127.0.0.1/" + path, callback=callback)
    return request, HtmlResponse(request.url, body=SITE.render(path)[1] if body is None else body, request=request)


def problem(spider, path: str, body: bytes | None = None) -> str | None:
    return spider.page_problem(*page(spider, path, body))


BOOK = next(iter(SITE.books.values())).path


@pytest.mark.parametrize("path", ["index.html", "catalogue/page-2.html", "catalogue/page-3.html", BOOK])
def test_whole_pages_have_no_problem(spider, path):
    assert problem(spider, path) is None


def test_pages_cut_short_but_well_formed_are_seen_through(spider):
    assert problem(spider, "catalogue/page-2.html", cut(SITE.render("catalogue/page-2.html")[1])) == (
        "10 products where page 1 of 1 of 50 results has 50")
    assert problem(spider, BOOK, cut(SITE.render(BOOK)[1])) == "no product details table"
    whole = SITE.render(BOOK)[1]
    assert problem(spider, BOOK, whole[:len(whole) // 2]) == "document ends before </html>"
    assert problem(spider, BOOK, whole.replace(b"<footer", b"<div")) == "no footer"


def test_other_responses_are_not_judged(spider):
    request = scrapy.Request("http://127.0.0.1/robots.txt")
    assert spider.page_problem(request, HtmlResponse(request.url, body=b"User-agent: *\n", request=request)) is None


def test_a_listing_without_its_next_link_or_with_a_product_missing_contradicts_itself(spider):
    listing = SITE.render("catalogue/page-2.html")[1]
    no_next = listing.replace(b'<li class="next">', b'<li class="other">')
    assert problem(spider, "catalogue/page-2.html", no_next) == "no next link on page 2 of 3"
    one_less = listing.replace(b'<article class="product_pod">', b"<article>", 1)
    assert problem(spider, "catalogue/page-2.html", one_less) == "19 products where page 2 of 3 of 50 results has 20"
    last = SITE.render("catalogue/page-3.html")[1].replace(b'<article class="product_pod">', b"<article>", 1)
    assert problem(spider, "catalogue/page-3.html", last) == "9 products where page 3 of 3 of 50 results has 10"


def test_the_outcome_compares_what_was_seen_with_what_the_site_declared(spider):
    assert spider.outcome == (outcome.FAILED, "the site declared nothing: start page not read")
    list(spider.parse_listing(page(spider, "index.html")[1]))
    assert spider.declared == {"books": 50, "listing pages": 3}
    assert spider.outcome.status == outcome.FAILED and spider.outcome.reason.startswith("empty crawl")
    spider.crawler.stats.set_value("item_scraped_count", 49)
    spider.seen.update({"books": 49, "listing pages": 1})  # parse_listing saw page 1
    assert spider.outcome == (outcome.PARTIAL, "saw 49 of 50 books the site declares; "
                                               "saw 2 of 3 listing pages the site declares")
    spider.seen.update({"books": 1, "listing pages": 1})
    assert spider.outcome is None
    spider.page_read(page(spider, BOOK)[1], "product pages", "no footer")
    assert spider.outcome == (outcome.PARTIAL, f"1 page(s) never came back whole: http://127.0.0.1/{BOOK} (no footer)")


@pytest.mark.parametrize("finish_reason, spider_outcome, status, code", [
    ("finished", None, outcome.FINISHED, 0),
    ("finished", (outcome.PARTIAL, "saw 1 of 2 books"), outcome.PARTIAL, 1),
    ("finished", (outcome.FAILED, "empty crawl"), outcome.FAILED, 1),
    ("shutdown", None, outcome.INTERRUPTED, 1),
    ("database_unavailable", None, outcome.FAILED, 1),
    ("unknown_category", None, outcome.FAILED, 1),
])
def test_status_and_exit_code_rules(finish_reason, spider_outcome, status, code):
    result = outcome.of_crawl(finish_reason, spider_outcome)
    assert result.status == status and outcome.exit_code(result.status) == code
