"""``/api/v1/books``: filtered, sorted, keyset-paginated books; one book; its history.

A page is one query plus the count, both on the same snapshot; resuming after
the cursor's (sort value, id) walks an index, so a deep page costs what the first does.
"""

from __future__ import annotations

from flask import Blueprint

from api import cursor
from api.db import fetch_all, fetch_one
from api.errors import ApiError
from api.operation import operation
from api.schemas.books import BookHistorySchema, BookPageSchema, BookSchema, BooksQuery

bp = Blueprint("books", __name__, url_prefix="/api/v1/books")

BOOK_ID = "<int(max=2147483647):book_id>"  # books.id is an integer: larger ids are simply absent
# Sort field -> keyset columns; only these names ever reach the SQL text.
SORT_KEYS = {"id": ("id",), "title": ("title", "id"), "price": ("price", "id"),
             "rating": ("rating", "id"), "availability": ("availability", "id")}


def _filters(args: dict) -> tuple[list[str], list]:
    where, params = [], []
    if not args["include_removed"]:
        where.append("removed_at IS NULL")
    if "category" in args:
        where.append("(lower(category) = lower(%s) OR category_slug = lower(%s))")
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
    return where, params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(conditions: list[str]) -> str:
    return " AND ".join(conditions) or "true"


@bp.get("")
@operation("List books", query=BooksQuery, response=BookPageSchema)
def list_books(args):
    """Books matching every given filter, `limit` at a time. Follow `next_cursor`
    (same filters and sort) until it is null to visit each matching book exactly once."""
    return book_page(args)


def book_page(args: dict) -> dict:
    """A page of the listing for loaded ``BooksQuery`` arguments (the brief's aliases, api/brief.py, too)."""
    where, params = _filters(args)
    descending = args["sort"].startswith("-")
    columns = SORT_KEYS[args["sort"].lstrip("-")]
    listing = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    page_where, page_params = list(where), list(params)
    if "cursor" in args:
        key = ", ".join(columns)
        page_where.append(f"({key}) {'<' if descending else '>'} ({', '.join(['%s'] * len(columns))})")
        page_params += cursor.decode(args["cursor"], columns, listing)
    direction = " DESC" if descending else ""
    rows = fetch_all(
        f"SELECT * FROM api.books WHERE {_where(page_where)}"
        f" ORDER BY {', '.join(c + direction for c in columns)} LIMIT %s",
        (*page_params, args["limit"] + 1),
    )
    total = fetch_one(f"SELECT count(*) AS n FROM api.books WHERE {_where(where)}", params)["n"]
    items = rows[:args["limit"]]
    more = len(rows) > args["limit"]
    return {"items": items, "total": total,
            "next_cursor": cursor.encode([items[-1][c] for c in columns], listing) if more else None}


@bp.get(f"/{BOOK_ID}")
@operation("Get a book", response=BookSchema)
def get_book(book_id):
    """Every column of the book, removed or not, with its category."""
    book = fetch_one("SELECT * FROM api.books WHERE id = %s", (book_id,))
    if book is None:
        raise ApiError(404, f"no book with id {book_id}")
    return book


@bp.get(f"/{BOOK_ID}/history")
@operation("Price, stock and rating history of a book", response=BookHistorySchema)
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
