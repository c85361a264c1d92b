"""BooksSite: renders the local books.toscrape.com copy (tests/sites/server.py serves it over HTTP)."""
from __future__ import annotations

import collections
import hashlib
import posixpath
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from .data import CATEGORY_NAMES, RATING_WORDS, SiteBook, category_path
from .templates import Block, own_templates
from .templates import real_templates as templates_from_real_pages

BOOKS_1 = "catalogue/category/books_1/"
PER_PAGE = 20
RECENT = 6
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})
_NOT_FOUND = b"<!DOCTYPE html>\n<html><head><title>Not found</title></head><body><h1>Not Found</h1></body></html>\n"
_DISABLED = '<span class="btn btn-default btn-block disabled">Add to basket</span>'


def escape(text: str) -> str:
    """Django's escape (the real site is Django/Oscar): ' becomes &#39;."""
    return text.translate(_ESCAPES)


def money(value: Decimal) -> str:
    return f"£{value:,.2f}"


def truncate_words(text: str, n: int = 4) -> str:
    """Django's truncatewords, as used for listing card titles."""
    words = text.split()
    return " ".join(words[:n]) + " ..." if len(words) > n else " ".join(words)


def rel_dir(page: str, target_dir: str) -> str:
    """Relative prefix from a page to a root-relative directory ("" is the root)."""
    r = posixpath.relpath(target_dir or ".", posixpath.dirname(page) or ".")
    return "" if r == "." else r + "/"


def _thumb(image_path: str) -> str:
    """Listing thumbnails live under another cache hash than the product image."""
    h = hashlib.md5(image_path.encode()).hexdigest()
    return f"media/cache/{h[:2]}/{h[2:4]}/{h}.jpg"


def _availability(n: int) -> dict[str, str]:
    if n > 0:
        return dict(avail_code="instock", avail_icon="ok", avail_short="In stock",
                    avail_message=f"In stock ({n} available)")
    return dict(avail_code="outofstock", avail_icon="remove", avail_short="Unavailable",
                avail_message="Unavailable")


# --- malformed product pages ----------------------------------------------------

def _drop(pattern: str, count: int = 1) -> Callable[[str], tuple[int, str]]:
    return lambda html: (200, re.sub(pattern, "", html, count=count, flags=re.S))


_PRICE_ROWS = r"\s*<tr>\s*<th>(?:Price \(excl\. tax\)|Price \(incl\. tax\)|Tax)</th>.*?</tr>"


def _no_price(html: str) -> tuple[int, str]:
    html = re.sub(r'<p class="price_color">[^<]*</p>', "", html, count=1)  # the product's, not the cards'
    return 200, re.sub(_PRICE_ROWS, "", html, count=3, flags=re.S)


# kind -> (what breaks, transform of the rendered page). BooksSite.malformed[id] = kind.
MALFORMED: dict[str, tuple[str, Callable[[str], tuple[int, str]]]] = {
    "no_price": ("p.price_color of the product and the three price/tax table rows removed "
                 "(table has 4 rows; recently-viewed cards keep their prices)", _no_price),
    "bad_price": ("price shown as '£N/A' in p.price_color and both price cells",
                  lambda h: (200, re.sub(r'(<p class="price_color">|Price \(\w+\. tax\)</th><td>)£[\d.,]+',
                                         r"\1£N/A", h, count=3))),
    "bad_rating": ("rating class is 'star-rating Zero'",
                   lambda h: (200, re.sub(r'<p class="star-rating \w+">', '<p class="star-rating Zero">', h, count=1))),
    "no_title": ("the product <h1> is removed (<title>, breadcrumb and img alt keep the title)",
                 _drop(r"<h1>[^<]*</h1>")),
    "no_upc": ("the UPC table row is removed (table has 6 rows)", _drop(r"\s*<tr>\s*<th>UPC</th>.*?</tr>")),
    "no_category": ("the breadcrumb's category item is removed (Home, Books, title only)",
                    _drop(r"\s*<li>\s*<a href=\"\.\./category/books/[^\"]+\">[^<]*</a>\s*</li>")),
    "garbage": ("HTML truncated in the middle of the product_main div's start tag (status 200)",
                lambda h: (200, h[:h.index("product_main")])),
    "empty": ("status 200 with an empty body", lambda h: (200, "")),
    "not_found": ("status 404 although listings link to the page", lambda h: (404, _NOT_FOUND.decode())),
}


def cut(body: bytes) -> bytes:
    """A page cut short the way proxies and overloaded origins cut them, yet well-formed:
    a listing keeps its first 10 products and loses the rest and its pager; a product page
    ends before its details table (so also without footer). Both still end with </html>."""
    html = body.decode("utf-8")
    cards = [m.start() for m in re.finditer(r'<li class="col-xs-6', html)]
    if "product_page" not in html and len(cards) > 10:
        end = html.index("</ol>", cards[-1])
        html = html[:cards[10]] + html[end:]
        return re.sub(r'\s*<div>\s*<ul class="pager">.*?</ul>\s*</div>', "", html, flags=re.S).encode("utf-8")
    if (table := html.find('<table class="table table-striped">')) >= 0:
        return (html[:table] + "</article>\n</div></div></div></div>\n    </body>\n</html>\n").encode("utf-8")
    return body


# A redesign: what REDESIGNS[kind] renames on every page. BooksSite.redesigned holds the kinds in effect.
REDESIGNS: dict[str, tuple[bytes, bytes]] = {
    "cards": (b'<article class="product_pod">', b'<article class="product-card">'),  # listings show 0 products
    "details": (b'<table class="table table-striped">', b'<table class="table product-details">'),  # no table
}


# --- the site ---------------------------------------------------------------------

class BooksSite:
    """books.toscrape.com, rendered from `books` on every request.

    Listing order and membership are precomputed (`reindex()`, redone automatically when
    the number of books changes; call it yourself after changing a book's category).
    Prices, stock, titles... are read at request time, so tests can mutate books and recrawl.

    Test hooks (site paths are like "catalogue/page-3.html"; "/" counts as "index.html"):
      fail_once        paths answering 500 on their next request, then normally
      cut_once         paths served cut short but well-formed (see cut()) on their next request, then whole
      cut              paths always served cut short but well-formed
      redesigned       REDESIGNS kinds applied to every page ("cards": product_pod renamed, "details": the table's class)
      malformed        book id -> a MALFORMED kind, applied to its product page
      requests         Counter of requested paths (HTTP only: handle(), not render())
      recently_viewed  book id -> ids of its "recently viewed" cards ([] hides the block)

    real_templates: the fixture site folder; pages are then the real fixture pages with
    each book's values substituted (see templates.real_templates), and books identical
    to real ones (same UPC) get their real creation time, thumbnails and recently viewed.
    """

    def __init__(self, books: list[SiteBook], *, real_templates: Path | None = None):
        self.books: dict[int, SiteBook] = {b.id: b for b in books}
        self.fail_once: set[str] = set()
        self.cut_once: set[str] = set()
        self.cut: set[str] = set()
        self.redesigned: set[str] = set()
        self.malformed: dict[int, str] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        # book id -> ids of its "recently viewed" cards; default: the 6 books listed just before it.
        self.recently_viewed: dict[int, list[int]] = {}
        self._created: dict[int, str] = {}
        self._thumbs: dict[int, str] = {}
        self._lock = threading.Lock()
        cats = [(name, category_path(name) + "index.html") for name in CATEGORY_NAMES]
        if real_templates is None:
            self.templates = own_templates(cats)
        else:
            site_dir = _site_dir(Path(real_templates))
            self.templates = templates_from_real_pages(site_dir)
            self._adopt_real_details(site_dir)
        self._sidebars: dict[str, str] = {}
        self.reindex()

    # Listings --------------------------------------------------------------------
    def reindex(self) -> None:
        ids = sorted(self.books, reverse=True)
        self._all = ids
        self._pos = {book_id: i for i, book_id in enumerate(ids)}
        self._by_cat: dict[str, list[int]] = {name: [] for name in CATEGORY_NAMES}
        for book_id in ids:
            self._by_cat.setdefault(self.books[book_id].category, []).append(book_id)
        self._cat_by_dir = {category_path(name): name for name in CATEGORY_NAMES}

    def _fresh(self) -> None:
        if len(self._all) != len(self.books):
            self.reindex()

    # Requests ----------------------------------------------------------------------
    def handle(self, raw_path: str) -> tuple[int, bytes]:
        """An HTTP request: counted in `requests`, subject to `fail_once`, then render()."""
        path = normalize(raw_path)
        with self._lock:
            self.requests[path] += 1
            if path in self.fail_once:
                self.fail_once.discard(path)
                return 500, b"<html><body><h1>Server Error (500)</h1></body></html>\n"
            cut_now = path in self.cut or path in self.cut_once
            self.cut_once.discard(path)
        status, body = self.render(path)
        for kind in self.redesigned:
            body = body.replace(*REDESIGNS[kind])
        return (status, cut(body)) if cut_now and status == 200 else (status, body)

    def respond(self, target: str) -> tuple[int, str, bytes]:
        """handle() for tests/sites/server.py; like the real server, no charset although the body is UTF-8."""
        status, body = self.handle(target)
        return status, "text/html", body

    def render(self, path: str) -> tuple[int, bytes]:
        """(status, UTF-8 body) for a site path such as "catalogue/page-2.html"."""
        path = normalize(path)
        self._fresh()
        m = re.fullmatch(r"catalogue/([^/]+)_(\d+)/index\.html", path)
        if m and "category" not in path:
            return self._product_page(int(m.group(2)), m.group(1))
        html = self._listing_page(path)
        return (404, _NOT_FOUND) if html is None else (200, html.encode("utf-8"))

    # Product pages -------------------------------------------------------------------
    def _product_page(self, book_id: int, slug: str) -> tuple[int, bytes]:
        book = self.books.get(book_id)
        if book is None or book.slug != slug:
            return 404, _NOT_FOUND
        html = self.product_html(book)
        kind = self.malformed.get(book_id)
        status = 200
        if kind is not None:
            status, html = MALFORMED[kind][1](html)
        return status, html.encode("utf-8")

    def product_html(self, book: SiteBook) -> str:
        t = self.templates
        desc = book.description
        page = book.path
        return t.product.format(
            title=escape(book.title), created=self._created.get(book.id, t.created),
            meta_description=escape(desc) if desc else "",
            category_href=rel_dir(page, category_path(book.category)) + "index.html",
            category=escape(book.category), image_src="../../" + book.image_path,
            price=money(book.price_incl_tax), rating=RATING_WORDS[book.rating],
            slug_id=f"{book.slug}_{book.id}",
            reviews_text=f"{book.review_count} customer review" + ("" if book.review_count == 1 else "s"),
            description=t.description.format(description=desc) if desc else "",
            upc=book.upc, price_excl=money(book.price_excl_tax), price_incl=money(book.price_incl_tax),
            tax=money(book.tax), num_reviews=book.review_count,
            recently_viewed=self._cards(t.recent, self._recent_ids(book.id), page),
            **_availability(book.availability),
        )

    def _recent_ids(self, book_id: int) -> list[int]:
        if book_id in self.recently_viewed:
            return [i for i in self.recently_viewed[book_id] if i in self.books]
        # The real site shows the books viewed just before, newest first: here the
        # books listed just before this one (wrapping around), never the book itself.
        pos, n = self._pos[book_id], len(self._all)
        return [self._all[(pos - k) % n] for k in range(1, min(RECENT, n - 1) + 1)]

    def _cards(self, block: Block, ids: list[int], page: str) -> str:
        if not ids:
            return ""
        cat, root = rel_dir(page, "catalogue/"), rel_dir(page, "")
        cards = []
        for book_id in ids:
            b = self.books[book_id]
            avail = _availability(b.availability)
            cards.append(block.card.tpl.format(
                href=f"{cat}{b.slug}_{b.id}/index.html",
                thumb=root + self._thumbs.get(b.id, _thumb(b.image_path)),
                title=escape(b.title), short_title=escape(truncate_words(b.title)),
                rating=RATING_WORDS[b.rating], price=money(b.price_incl_tax),
                basket=block.card.form if b.availability > 0 else _DISABLED, **avail))
        return block.pre + block.sep.join(cards) + block.post

    # Listing pages -------------------------------------------------------------------
    def _listing_page(self, path: str) -> str | None:
        found = self._listing_of(path)
        if found is None:
            return None
        name, base, page_no = found  # name: None for all products, "Books", or a category
        ids = self._all if name in (None, "Books") else self._by_cat[name]
        pages = max(1, -(-len(ids) // PER_PAGE))
        if not 1 <= page_no <= pages:
            return None
        shown = ids[(page_no - 1) * PER_PAGE: page_no * PER_PAGE]
        root = rel_dir(path, "")
        heading = escape(name or "All products")
        return self.templates.listing.format(
            root=root, page_title=heading, heading=heading,
            breadcrumb=_breadcrumb(root, name, rel_dir(path, BOOKS_1)),
            sidebar=self._sidebar(path), results=_results(len(ids), page_no, pages, len(shown)),
            cards=self._cards(self.templates.listed, shown, path),
            pager=_pager(path, base, page_no, pages),
        )

    def _listing_of(self, path: str) -> tuple[str | None, str, int] | None:
        """(category name or None, directory of page-N.html, page number) for a listing path."""
        if path == "index.html":
            return None, "catalogue/", 1
        m = re.fullmatch(r"(catalogue/(?:category/books_1/|category/books/[^/]+_\d+/)?)"
                         r"(?:index|page-(\d+))\.html", path)
        if not m or (m.group(1) == "catalogue/" and not m.group(2)):
            return None
        base, page_no = m.group(1), int(m.group(2) or 1)
        if base == "catalogue/":
            return None, base, page_no
        if base == BOOKS_1:
            return "Books", base, page_no
        name = self._cat_by_dir.get(base)
        return None if name is None else (name, base, page_no)

    def _sidebar(self, page: str) -> str:
        d = posixpath.dirname(page)
        if d not in self._sidebars:
            self._sidebars[d] = re.sub(
                r'href="(catalogue/category/[^"]+/)index\.html"',
                lambda m: f'href="{rel_dir(page, m.group(1))}index.html"', self.templates.sidebar)
        return self._sidebars[d]

    # Real-template extras --------------------------------------------------------------
    def _adopt_real_details(self, site_dir: Path) -> None:
        """Per-book details only the real pages know (creation time, thumbnail, what was
        recently viewed), used for books identical to the real ones (same UPC / title)."""
        for page in site_dir.glob("catalogue/*_*/index.html"):
            html = page.read_text(encoding="utf-8")
            book_id = int(page.parent.name.rsplit("_", 1)[1])
            upc = re.search(r"<th>UPC</th><td>([^<]*)", html).group(1)
            cards = _thumbs_in(html)
            self._remember_thumbs(cards)
            if book_id in self.books and self.books[book_id].upc == upc:
                self._created[book_id] = re.search(r'name="created" content="([^"]*)"', html).group(1)
                self.recently_viewed[book_id] = [i for i, _, _ in cards]
        self._remember_thumbs(_thumbs_in((site_dir / "index.html").read_text(encoding="utf-8")))

    def _remember_thumbs(self, cards: list[tuple[int, str, str]]) -> None:
        for book_id, alt, thumb in cards:
            book = self.books.get(book_id)
            if book is not None and escape(book.title) == alt:
                self._thumbs[book_id] = thumb


def _thumbs_in(html: str) -> list[tuple[int, str, str]]:
    """(id, alt, root-relative thumbnail) of each product_pod card in a real page."""
    return [(int(i), alt, thumb) for i, thumb, alt in re.findall(
        r'<a href="[^"]*_(\d+)/index\.html"><img src="(?:\.\./)*(media/[^"]+)" alt="([^"]*)" class="thumbnail">', html)]


def _site_dir(p: Path) -> Path:
    for cand in (p, p / "site", p / "books.toscrape.com" / "site"):
        if (cand / "index.html").exists():
            return cand
    raise FileNotFoundError(f"no books.toscrape.com site folder at {p}")


def normalize(path: str) -> str:
    """Site path without query, leading slash or percent-escapes; "/" is "index.html"."""
    path = unquote(urlsplit(path).path).lstrip("/")
    return path or "index.html"


def _breadcrumb(root: str, name: str | None, books_href: str) -> str:
    home = f'        <li>\n            <a href="{root}index.html">Home</a>\n        </li>\n'
    if name in (None, "Books"):
        return home + f'        <li class="active">{name or "All products"}</li>\n'
    return (home + f'        <li>\n            <a href="{books_href}index.html">Books</a>\n        </li>\n'
            f'        <li class="active">{escape(name)}</li>\n')


def _results(count: int, page_no: int, pages: int, shown: int) -> str:
    """Oscar's result count line, e.g. "<strong>1000</strong> results - showing ... ."."""
    noun = "result" if count == 1 else "results"
    if pages == 1:
        return f"<strong>{count}</strong> {noun}."
    start = (page_no - 1) * PER_PAGE + 1
    return (f"<strong>{count}</strong> {noun} - showing <strong>{start}</strong> to "
            f"<strong>{start + shown - 1}</strong>.")


def _pager(path: str, base: str, page_no: int, pages: int) -> str:
    if pages == 1:
        return ""
    here = rel_dir(path, base)
    prev = (f'                <li class="previous"><a href="{here}page-{page_no - 1}.html">previous</a></li>\n\n'
            if page_no > 1 else "")
    nxt = (f'                <li class="next"><a href="{here}page-{page_no + 1}.html">next</a></li>\n\n'
           if page_no < pages else "")
    return (f'    <div>\n        <ul class="pager">\n\n{prev}            <li class="current">\n\n'
            f'                Page {page_no} of {pages}\n\n            </li>\n\n{nxt}        </ul>\n    </div>\n')
