"""``/api/v1/books``: filtered, sorted, keyset-paginated books (api/paging.py); one book; its history.

Every answer depends only on the 'books' data version: ETags and caches key on it (api/caching.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app

from api import paging
from api.db import fetch_all, fetch_one
from api.errors import ApiError
from api.operation import operation
from api.schemas.books import BookHistorySchema, BookPageSchema, BookSchema, BooksQuery

bp = Blueprint("books", __name__, url_prefix="/api/v1/books")

TRIGRAMS = "api.title_trigram_index"
# api.books without its category columns: the view's join is then left out (0009_data_version.sql).
BOOK_COLUMNS = ("id, upc, title, category_id, price, price_excl_tax, price_incl_tax, tax, availability, rating,"
                " review_count, description, image_url, url, first_seen_at, last_seen_at, removed_at, updated_at,"
                " last_run_id")
BOOK_ID = "<int(max=2147483647):book_id>"  # books.id is an integer: larger ids are simply absent
# Sort field -> keyset columns; only these names ever reach the SQL text.
SORT_KEYS = {"id": ("id",), "title": ("title", "id"), "price": ("price", "id"),
             "rating": ("rating", "id"), "availability": ("availability", "id")}


def _filters(args: dict) -> tuple[list[str], list]:
    where, params = [], []
    if not args["include_removed"]:
        where.append("removed_at IS NULL")
    if "category" in args:  # the ids first (an InitPlan), then books alone
        where.append("category_id = ANY (ARRAY(SELECT id FROM api.categories"
                     " WHERE lower(name) = lower(%s) OR slug = lower(%s)))")
        params += [args["category"], args["category"]]
    for name, condition in (("min_price", "price >= %s"), ("max_price", "price <= %s"),
                            ("rating", "rating = %s"), ("min_rating", "rating >= %s")):
        if name in args:
            where.append(condition)
            params.append(args[name])
    if "in_stock" in args:
        where.append("availability > 0" if args["in_stock"] else "availability = 0")
    if "q" in args:
        where.append("lower(title) LIKE lower(%s)")
        params.append("%" + _escape_like(args["q"]) + "%")
        if len(args["q"]) >= 3 and _trigram_index():  # the index narrows, LIKE decides
            where.append("title_trigrams(lower(title)) @> ARRAY[%s]")
            params.append(paging.remember(("rarest trigram", args["q"]), lambda: _rarest_trigram(args["q"])))
    return where, params


def _rarest_trigram(q: str) -> str:
    """The trigram of ``q`` fewest titles hold, by the index's statistics (the first one when they
    are not visible). One trigram, not all: the planner estimates one well, and a product of
    correlated ones so badly that it would fetch every candidate row instead of walking the sort."""
    return fetch_one(
        "SELECT t FROM unnest(title_trigrams(lower(%s))) AS t LEFT JOIN"
        " (SELECT unnest(most_common_elems::text::text[]) AS e, unnest(most_common_elem_freqs) AS f"
        "  FROM pg_stats WHERE tablename = 'books_title_trigrams_idx') s ON s.e = t"
        " ORDER BY coalesce(s.f, 0), t LIMIT 1", (q,))["t"]


def _trigram_index() -> bool:
    """Whether 0009's title trigram index exists (it does where pg_trgm is missing); asked once per app."""
    known = current_app.extensions.get(TRIGRAMS)
    if known is None:
        known = current_app.extensions[TRIGRAMS] = fetch_one(
            "SELECT to_regclass('books_title_trigrams_idx') IS NOT NULL AS present")["present"]
    return known


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Filters whose total the summary tables hold exactly (api.category_counts).
SUMMARY_FILTERS = {"category", "include_removed", "sort", "cursor", "limit"}


def _summary_total(args: dict):
    """The exact total from the per-category summary, or None when other filters apply."""
    if not set(args) <= SUMMARY_FILTERS:
        return None
    column = "every" if args["include_removed"] else "listed"
    if "category" in args:
        return lambda: fetch_one(f"SELECT coalesce(sum({column}), 0)::bigint AS n FROM api.category_counts"
                                 " WHERE lower_name = lower(%s) OR slug = lower(%s)",
                                 (args["category"], args["category"]))["n"]
    return lambda: fetch_one(f"SELECT coalesce(sum({column}), 0)::bigint AS n FROM api.category_counts")["n"]


@bp.get("")
@operation("List books", query=BooksQuery, response=BookPageSchema, versions=("books",))
def list_books(args):
    """Books matching every given filter, `limit` at a time. Follow `next_cursor`
    (same filters and sort) until it is null to visit each matching book exactly once.
    `total` is exact up to 1,000 matches (and always without filters other than category
    and include_removed); above, it is an estimate and `total_is_estimate` is true."""
    return book_page(args)


def book_page(args: dict) -> dict:
    """A page of the listing for loaded ``BooksQuery`` arguments (the brief's aliases, api/brief.py, too)."""
    where, params = _filters(args)
    page = paging.page("api.books", where, params, columns=SORT_KEYS[args["sort"].lstrip("-")],
                       descending=args["sort"].startswith("-"), args=args, limit=args["limit"],
                       exact_total=_summary_total(args), select=BOOK_COLUMNS)
    names = paging.remember("category names", lambda: {
        row["id"]: (row["name"], row["slug"]) for row in fetch_all("SELECT id, name, slug FROM api.categories")})
    for book in page["items"]:
        book["category"], book["category_slug"] = names[book["category_id"]]
    return page


@bp.get(f"/{BOOK_ID}")
@operation("Get a book", response=BookSchema, versions=("books",))
def get_book(book_id):
    """Every column of the book, removed or not, with its category."""
    book = fetch_one("SELECT * FROM api.books WHERE id = %s", (book_id,))
    if book is None:
        raise ApiError(404, f"no book with id {book_id}")
    return book


@bp.get(f"/{BOOK_ID}/history")
@operation("Price, stock and rating history of a book", response=BookHistorySchema, versions=("books",))
def book_history(book_id):
    """One entry per version, oldest first; the current one has valid_to null."""
    rows = fetch_all(
        "SELECT h.price, h.availability, h.rating, h.valid_from, h.valid_to, h.run_id"
        " FROM api.books b LEFT JOIN book_history h ON h.book_id = b.id"
        " WHERE b.id = %s ORDER BY h.valid_from, h.id",
        (book_id,),
    )
    if not rows:
        raise ApiError(404, f"no book with id {book_id}")
    return {"book_id": book_id, "items": [row for row in rows if row["valid_from"] is not None]}
