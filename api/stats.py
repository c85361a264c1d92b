"""``/api/v1/stats``: catalogue totals, and the same per category, from the summaries each merge refreshes;
``/api/v1/categories``: every category with its book count and prices."""

from __future__ import annotations

from flask import Blueprint

from api.crawls import BOOKS_SPIDER, last_runs
from api.db import fetch_all, fetch_one
from api.operation import operation
from api.schemas.books import (BookChangesQuery, BookChangesSchema, BookFiguresQuery, BookFiguresSchema,
                               CategoryListSchema, CategoryStatsListSchema, StatsSchema)

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")
categories = Blueprint("categories", __name__, url_prefix="/api/v1/categories")

RATINGS = range(1, 6)
BUCKET_WIDTH = 5  # GBP: summary.book_cube's price_bucket is floor(price / 5) (0017_dashboard.sql)
# Query argument -> its condition on api.book_cube or api.book_changes; only these texts reach the SQL.
FILTERS = {"category": "(lower(category) = lower(%(category)s) OR category_slug = lower(%(category)s))",
           "min_rating": "rating >= %(min_rating)s", "in_stock": "in_stock = %(in_stock)s", "since": "day >= %(since)s"}


@bp.get("")
@operation("Catalogue statistics", response=StatsSchema, versions=("books", "runs"))
def stats():
    """Figures over listed books (removed ones only counted), and the last finished books crawl."""
    row = fetch_one("SELECT * FROM api.book_stats")
    last = last_runs(BOOKS_SPIDER).get(BOOKS_SPIDER, {}).get("ended")
    return {**row,
            "price": {"min": row["min_price"], "max": row["max_price"], "avg": row["avg_price"]},
            "rating_distribution": {str(r): row[f"rating_{r}"] for r in RATINGS},
            "last_crawl": last}


@categories.get("")
@operation("List categories", response=CategoryListSchema, versions=("books",))
def list_categories():
    """By name; counts and prices over listed (not removed) books."""
    return {"items": fetch_all("SELECT name, slug, book_count, avg_price, min_price, max_price"
                               " FROM api.categories ORDER BY name")}


@bp.get("/categories")
@operation("Statistics per category", response=CategoryStatsListSchema, versions=("books",))
def category_stats():
    """Largest categories first; figures over listed books."""
    return {"items": fetch_all("SELECT name, slug, book_count, in_stock, units, avg_price, min_price,"
                               " max_price, avg_rating FROM api.categories ORDER BY book_count DESC, name")}


def _where(args: dict) -> str:
    """The conditions of the given filters, their values named after them (fetch_all(..., args))."""
    return " AND ".join(["true", *(condition for name, condition in FILTERS.items() if name in args)])


@bp.get("/books")
@operation("Book figures for charts", query=BookFiguresQuery, response=BookFiguresSchema, versions=("books",))
def book_figures(args):
    """Listed books matching the filters per category and price bucket, per rating and price
    bucket, per rating, and their stock per category: sums over the summary the merge keeps
    (a few thousand rows at most, whatever the catalogue's size)."""
    where = _where(args)

    def grouped(keys: str, figures: str = "") -> list[dict]:
        group = f" GROUP BY {keys} ORDER BY {keys}" if keys else ""
        return fetch_all(f"SELECT {keys + ',' if keys else ''} coalesce(sum(books), 0)::bigint AS books,"
                         f" coalesce(sum(units), 0)::bigint AS units,"
                         f" round(sum(price_sum) / nullif(sum(books), 0), 2) AS avg_price {figures}"
                         f" FROM api.book_cube WHERE {where}{group}", args)

    def priced(rows: list[dict]) -> list[dict]:
        for row in rows:
            row["low"], row["high"] = row["price_bucket"] * BUCKET_WIDTH, (row["price_bucket"] + 1) * BUCKET_WIDTH
        return rows

    return {"bucket_width": BUCKET_WIDTH, **grouped("")[0],
            "price_histogram": priced(grouped("category, category_slug, price_bucket")),
            "rating_price": priced(grouped("rating, price_bucket")),
            "ratings": grouped("rating"),
            "stock": grouped("category, category_slug",
                             ", coalesce(sum(books) FILTER (WHERE in_stock), 0)::bigint AS in_stock,"
                             " coalesce(sum(books) FILTER (WHERE NOT in_stock), 0)::bigint AS out_of_stock")}


@bp.get("/books/changes")
@operation("Book changes per day", query=BookChangesQuery, response=BookChangesSchema, versions=("books",))
def book_changes(args):
    """What the crawls saw change each day, from the book history: books added, prices up and
    down (and their sum), stock changes, removals. From the summary the merge keeps."""
    return {"items": fetch_all(
        "SELECT day, sum(added)::bigint AS added, sum(price_up)::bigint AS price_up,"
        " sum(price_down)::bigint AS price_down, sum(price_delta) AS price_delta,"
        " sum(stock_change)::bigint AS stock_change, sum(removed)::bigint AS removed"
        f" FROM api.book_changes WHERE {_where(args)} GROUP BY day ORDER BY day", args)}
