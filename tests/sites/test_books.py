"""The local books.toscrape.com copy, exercised over real HTTP (urllib)."""
from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from urllib.parse import urljoin, urlsplit

import pytest
from parsel import Selector

from tests.helpers import fetch
from tests.sites.books import (CATEGORY_NAMES, MALFORMED, REPO_ROOT, BooksSite, SiteBook, escape,
                               generate_books, real_books, require_fixtures, serve)


def page(url: str) -> Selector:
    status, _, body = fetch(url)
    assert status == 200, url
    return Selector(text=body.decode("utf-8"))


@pytest.fixture
def books() -> list[SiteBook]:
    books = generate_books(130, seed=3)
    for b in books[5:50]:  # one category with 45 books: three listing pages
        b.category = "Poetry"
    return books


@pytest.fixture
def served(books):
    site = BooksSite(books)
    with serve(site) as base:
        yield site, base


def product_urls(sel: Selector, url: str) -> list[str]:
    return [urljoin(url, h) for h in sel.css("article.product_pod h3 a::attr(href)").getall()]


# --- generator ------------------------------------------------------------------

def test_generate_books_is_deterministic_and_varied():
    books = generate_books(1000)
    assert books == generate_books(1000) and books != generate_books(1000, seed=1)
    assert [b.id for b in books] == list(range(1000, 0, -1))
    assert len({b.upc for b in books}) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", b.upc) for b in books)
    titles = " ".join(b.title for b in books)
    for ch in "&'\"éü":
        assert ch in titles
    assert any(b.description is None for b in books) and any(b.description for b in books)
    assert {b.availability for b in books} == set(range(23))
    assert {b.rating for b in books} == {1, 2, 3, 4, 5}
    assert {b.category for b in books} == set(CATEGORY_NAMES)
    assert any(b.price_excl_tax % 1 for b in books)
    assert all(b.price_incl_tax == b.price_excl_tax + b.tax for b in books)
    assert all(re.fullmatch(r"media/cache/\w\w/\w\w/\w{32}\.jpg", b.image_path) for b in books)
    assert all(re.fullmatch(r"[a-z0-9-]+", b.slug) for b in books)


# --- listings -----------------------------------------------------------------------

def test_headers_encoding_and_root(served):
    site, base = served
    status, ctype, body = fetch(base)
    assert status == 200 and ctype == "text/html"  # no charset, like the real server
    assert body == fetch(base + "index.html")[2]
    assert "£" in body.decode("utf-8") and "Â£" in body.decode("latin-1")


def test_all_products_pagination(served, books):
    site, base = served
    url, seen, pages = base + "index.html", [], 0
    while url:
        sel = page(url)
        pages += 1
        assert sel.css("li.current::text").get().strip() == f"Page {pages} of 7"
        assert sel.css("form.form-horizontal strong::text").get() == "130"
        seen += product_urls(sel, url)
        nxt = sel.css("li.next > a::attr(href)").get()
        if pages > 1:
            prev = urljoin(url, sel.css("li.previous > a::attr(href)").get())
            assert prev.endswith(f"catalogue/page-{pages - 1}.html")
        url = nxt and urljoin(url, nxt)
    assert pages == 7
    assert seen == [urljoin(base, b.path) for b in books]  # newest first, each once
    assert fetch(base + "catalogue/page-2.html")[0] == 200
    for missing in ("catalogue/page-8.html", "catalogue/page-0.html", "catalogue/index.html",
                    "media/cache/aa/bb/x.jpg", "static/oscar/css/styles.css", "nope.html"):
        assert fetch(base + missing)[0] == 404, missing


def test_category_pages_and_pagination(served, books):
    site, base = served
    url = base + "catalogue/category/books/poetry_23/index.html"
    sel = page(url)
    assert sel.css("div.page-header h1::text").get() == "Poetry"
    assert sel.css("ul.breadcrumb li.active::text").get() == "Poetry"
    assert sel.css("li.current::text").get().strip() == "Page 1 of 3"
    poetry = [urljoin(base, b.path) for b in books if b.category == "Poetry"]
    assert 40 < len(poetry) <= 60
    assert " ".join(sel.css("form.form-horizontal ::text").getall()).split() == \
        f"{len(poetry)} results - showing 1 to 20 .".split()
    got = product_urls(sel, url)
    page3 = urljoin(url, "page-3.html")
    got += product_urls(page(urljoin(url, "page-2.html")), url) + product_urls(page(page3), page3)
    assert got == poetry
    assert sel.css("li.next > a::attr(href)").get() == "page-2.html"
    assert product_urls(sel, url)[0] == urljoin(base, books[5].path)
    assert sel.css("article.product_pod h3 a::attr(href)").get().startswith("../../../")
    assert fetch(urljoin(url, "page-4.html"))[0] == 404
    # A one-page category: no pager; "Books" lists everything.
    small = next(name for name in CATEGORY_NAMES if 0 < sum(b.category == name for b in books) <= 20)
    sel = page(base + site_category_path(small))
    assert not sel.css("ul.pager") and sel.css("article.product_pod")
    assert page(base + "catalogue/category/books_1/index.html").css("li.current::text").get().strip() == "Page 1 of 7"
    assert fetch(base + "catalogue/category/books/poetry_24/index.html")[0] == 404


def site_category_path(name: str) -> str:
    from tests.sites.books import CATEGORIES
    slug, n = CATEGORIES[name]
    return f"catalogue/category/books/{slug}_{n}/index.html"


def test_sidebar_lists_the_50_real_categories(served):
    site, base = served
    for path in ("index.html", "catalogue/page-3.html", "catalogue/category/books/poetry_23/page-2.html"):
        url = base + path
        sel = page(url)
        names = [t.strip() for t in sel.css("div.side_categories ul ul a::text").getall()]
        assert names == CATEGORY_NAMES
        hrefs = [urljoin(url, h) for h in sel.css("div.side_categories a::attr(href)").getall()]
        assert hrefs[0] == base + "catalogue/category/books_1/index.html"
        assert hrefs[22] == base + "catalogue/category/books/poetry_23/index.html"


def test_every_relative_link_resolves(served):
    """Crawl every non-asset link from the home page: all of them must be served."""
    site, base = served
    todo, done = [base + "index.html"], set()
    while todo:
        url = todo.pop()
        if url in done:
            continue
        done.add(url)
        status, _, body = fetch(url)
        assert status == 200, url
        for href in Selector(text=body.decode()).css("a::attr(href)").getall():
            target = urljoin(url, href)
            if target.startswith(base) and not urlsplit(target).path.startswith(("/media", "/static")):
                todo.append(target.split("#")[0])
    assert len(done) > 130 + 7 + 50


# --- product pages --------------------------------------------------------------------

def test_product_page_structure(served, books):
    site, base = served
    book = next(b for b in books if b.description and b.availability and "&" in b.title)
    url = urljoin(base, book.path)
    status, _, body = fetch(url)
    html = body.decode("utf-8")
    sel = Selector(text=html)
    assert sel.css("div.product_main h1::text").get() == book.title
    assert escape(book.title) in html and "&amp;" in html
    assert sel.css("ul.breadcrumb li a::text").getall() == ["Home", "Books", book.category]
    assert urljoin(url, sel.css("ul.breadcrumb li a::attr(href)").getall()[0]) == base + "index.html"
    rows = sel.css("table.table-striped tr")
    assert len(rows) == 7
    table = {r.css("th::text").get(): r.css("td::text").get() for r in rows}
    assert table["UPC"] == book.upc and table["Product Type"] == "Books"
    assert table["Price (excl. tax)"] == f"£{book.price_excl_tax}"
    assert table["Price (incl. tax)"] == f"£{book.price_incl_tax}"
    assert table["Tax"] == f"£{book.tax}"
    assert table["Availability"] == f"In stock ({book.availability} available)"
    assert table["Number of reviews"] == str(book.review_count)
    assert sel.css("div.product_main p.price_color::text").get() == f"£{book.price_incl_tax}"
    words = ["Zero", "One", "Two", "Three", "Four", "Five"]
    assert sel.css("div.product_main p.star-rating::attr(class)").get() == f"star-rating {words[book.rating]}"
    assert sel.xpath("//div[@id='product_description']/following-sibling::p[1]/text()").get() == book.description
    assert f'href="/catalogue/{book.slug}_{book.id}/reviews/add/#addreview"' in html  # in a comment
    assert urljoin(url, sel.css("#product_gallery img::attr(src)").get()) == base + book.image_path


def test_recently_viewed_block(served, books):
    site, base = served
    book = books[40]
    url = urljoin(base, book.path)
    sel = page(url)
    assert sel.xpath("//h2[text()='Products you recently viewed']")
    cards = product_urls(sel, url)
    assert len(cards) == 6 and urljoin(base, book.path) not in cards
    assert cards == [urljoin(base, b.path) for b in books[39:33:-1]]
    assert all(fetch(c)[0] == 200 for c in cards)
    site.recently_viewed[book.id] = []
    assert not page(url).css("article.product_pod")


def test_out_of_stock_and_no_description(served, books):
    site, base = served
    book = books[0]
    book.availability, book.description = 0, None
    sel = page(urljoin(base, book.path))
    assert sel.css("div.product_main p.availability::attr(class)").get() == "outofstock availability"
    assert sel.css("table tr")[5].css("td::text").get() == "Unavailable"
    assert not sel.css("#product_description")
    assert sel.css("meta[name=description]::attr(content)").get().strip() == ""
    card = page(base).css("article.product_pod")[0]
    assert card.css("p.availability::text").getall()[-1].strip() == "Unavailable"


def test_wrong_slug_is_404(served, books):
    site, base = served
    assert fetch(base + f"catalogue/wrong-slug_{books[0].id}/index.html")[0] == 404
    assert fetch(base + "catalogue/anything_99999/index.html")[0] == 404


def test_changes_show_on_recrawl(served, books):
    site, base = served
    book = books[2]
    book.price_incl_tax = book.price_excl_tax = Decimal("12.34")
    book.availability = 7
    sel = page(urljoin(base, book.path))
    assert sel.css("div.product_main p.price_color::text").get() == "£12.34"
    assert "In stock (7 available)" in sel.css("table").get()
    assert page(base).css("p.price_color::text").getall()[2] == "£12.34"
    new = generate_books(131, seed=9)[0]  # id 131: newest, first on page 1
    site.books[new.id] = new
    sel = page(base)
    assert product_urls(sel, base)[0] == urljoin(base, new.path)
    assert sel.css("li.current::text").get().strip() == "Page 1 of 7"


# --- test hooks: fail_once, requests, malformed ----------------------------------------

def test_fail_once_and_request_counts(served):
    site, base = served
    site.fail_once.add("catalogue/page-3.html")
    assert fetch(base + "catalogue/page-3.html")[0] == 500
    assert fetch(base + "catalogue/page-3.html")[0] == 200
    assert fetch(base)[0] == 200
    assert site.requests["catalogue/page-3.html"] == 2 and site.requests["index.html"] == 1
    assert not site.fail_once


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_kinds(served, books, kind):
    site, base = served
    book = books[10]
    site.malformed[book.id] = kind
    status, _, body = fetch(urljoin(base, book.path))
    html = body.decode("utf-8")
    sel = Selector(text=html)
    main = sel.css("div.product_main")
    rows = sel.css("table.table-striped tr")
    expected = {
        "no_price": lambda: not main.css("p.price_color") and len(rows) == 4
        and len(sel.css("article.product_pod p.price_color")) == 6,
        "bad_price": lambda: main.css("p.price_color::text").get() == "£N/A"
        and rows[2].css("td::text").get() == rows[3].css("td::text").get() == "£N/A",
        "bad_rating": lambda: main.css("p.star-rating::attr(class)").get() == "star-rating Zero",
        "no_title": lambda: not main.css("h1") and book.title in sel.css("title::text").get(),
        "no_upc": lambda: len(rows) == 6 and "UPC" not in sel.css("table").get(),
        "no_category": lambda: sel.css("ul.breadcrumb a::text").getall() == ["Home", "Books"],
        "garbage": lambda: status == 200 and "</html>" not in html and not main,
        "empty": lambda: status == 200 and html == "",
        "not_found": lambda: status == 404,
    }[kind]
    assert expected(), kind
    assert page(urljoin(base, books[11].path)).css("div.product_main h1")  # others intact


# --- real templates ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    fixtures = require_fixtures()
    return fixtures, real_books(fixtures)


def _unabsolute(html: bytes) -> bytes:
    # The saved pages link books missing from the fixture set absolutely.
    return html.replace(b'href="http://books.toscrape.com/catalogue/', b'href="../')


def test_real_books(real):
    _, books = real
    assert len(books) == 1000 and [b.id for b in books] == list(range(1000, 0, -1))
    b = books[0]
    assert (b.slug, b.title, b.category, b.upc) == ("a-light-in-the-attic", "A Light in the Attic", "Poetry",
                                                    "a897fe39b1053632")
    assert (b.price_incl_tax, b.tax, b.availability, b.rating) == (Decimal("51.77"), 0, 22, 3)
    assert b.image_path == "media/cache/fe/72/fe72f0532301ec28892ae79a629a293c.jpg"
    assert next(x for x in books if x.id == 840).description is None
    assert {x.category for x in books} == set(CATEGORY_NAMES)


def test_real_templates_reproduce_the_real_pages(real):
    """Every fixture page, rendered from the real templates and the CSV data, is byte-identical."""
    fixtures, books = real
    site = BooksSite(books, real_templates=fixtures / "site")
    assert site.render("index.html") == (200, (fixtures / "site" / "index.html").read_bytes())
    pages = sorted((fixtures / "site" / "catalogue").glob("*/index.html"))
    assert len(pages) == 200
    for p in pages:
        status, body = site.render(p.relative_to(fixtures / "site").as_posix())
        assert status == 200 and body == _unabsolute(p.read_bytes()), p


def test_real_templates_without_per_book_extras(real):
    """Without what only the fixture page itself knows (creation time, recently viewed list,
    thumbnails), book 1000 differs from its real page in exactly those places."""
    fixtures, books = real
    site = BooksSite(books, real_templates=fixtures / "site")
    site._created.clear(), site.recently_viewed.clear(), site._thumbs.clear()
    ours = site.render(books[0].path)[1].decode()
    theirs = (fixtures / "site" / "catalogue" / "a-light-in-the-attic_1000" / "index.html").read_text()
    recent = re.compile(r"    \n        <div class=\"sub-header\">\n            <h2>Products you recently.*?</ul>\n", re.S)
    created = re.compile(r'name="created" content="[^"]*"')
    assert len(recent.findall(ours)) == 1 and len(recent.findall(theirs)) == 0
    assert created.sub("", recent.sub("", ours)) == created.sub("", theirs)


def _essentials(html: bytes) -> dict:
    sel = Selector(text=html.decode("utf-8"))

    def text(css):
        return [" ".join(t.split()) for t in sel.css(css).getall() if t.strip()]
    return {
        "title": text("div.product_main h1::text"), "price": text("div.product_main p.price_color::text"),
        "availability": text("div.product_main p.availability::text"),
        "rating": sel.css("div.product_main p.star-rating::attr(class)").get(),
        "table": text("table.table-striped ::text"), "breadcrumb": text("ul.breadcrumb ::text"),
        "description": sel.xpath("//div[@id='product_description']/following-sibling::p[1]/text()").getall(),
        "image": sel.css("#product_gallery img::attr(src)").get(),
        "cards": sel.css("article.product_pod h3 a::attr(href)").getall(),
    }


@pytest.mark.parametrize("book_id", [1000, 999, 840, 989])
def test_own_templates_match_the_real_ones(real, book_id):
    fixtures, books = real
    own, from_real = BooksSite(books), BooksSite(books, real_templates=fixtures / "site")
    own.recently_viewed = from_real.recently_viewed
    path = next(b.path for b in books if b.id == book_id)
    assert _essentials(own.render(path)[1]) == _essentials(from_real.render(path)[1])
    assert _essentials(own.render("catalogue/page-2.html")[1])["cards"] == \
        _essentials(from_real.render("catalogue/page-2.html")[1])["cards"]


def test_real_templates_serve_generated_books(real):
    fixtures, _ = real
    books = generate_books(60, seed=5)
    with serve(BooksSite(books, real_templates=fixtures / "site")) as base:
        sel = page(base + "catalogue/page-3.html")
        assert sel.css("li.current::text").get().strip() == "Page 3 of 3"
        assert len(product_urls(sel, base + "catalogue/page-3.html")) == 20
        book = books[-1]
        sel = page(urljoin(base, book.path))
        assert sel.css("div.product_main h1::text").get() == book.title
        assert len(sel.css("table.table-striped tr")) == 7
        assert len(sel.css("article.product_pod")) == 6


# --- CLI --------------------------------------------------------------------------------

def test_cli_serves_until_killed():
    with subprocess.Popen([sys.executable, "-m", "tests.sites.books", "--books", "50", "--port", "0"],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            base = proc.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base)
            sel = page(base + "catalogue/page-3.html")
            assert sel.css("li.current::text").get().strip() == "Page 3 of 3"
        finally:
            proc.kill()
