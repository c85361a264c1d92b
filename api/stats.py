"""``/api/v1/stats``: catalogue totals, and the same per category, from the summaries each merge refreshes."""

from __future__ import annotations

from flask import Blueprint

from api.crawls import BOOKS_SPIDER, last_runs
from api.db import fetch_all, fetch_one
from api.operation import operation
from api.schemas.books import CategoryStatsListSchema, StatsSchema

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")

RATINGS = range(1, 6)


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


@bp.get("/categories")
@operation("Statistics per category", response=CategoryStatsListSchema, versions=("books",))
def category_stats():
    """Largest categories first; figures over listed books."""
    return {"items": fetch_all("SELECT name, slug, book_count, in_stock, units, avg_price, min_price,"
                               " max_price, avg_rating FROM api.categories ORDER BY book_count DESC, name")}
