"""``/api/v1/categories``: every category with its book count and prices."""

from __future__ import annotations

from flask import Blueprint

from api.db import fetch_all
from api.operation import operation
from api.schemas.books import CategoryListSchema

bp = Blueprint("categories", __name__, url_prefix="/api/v1/categories")


@bp.get("")
@operation("List categories", response=CategoryListSchema, versions=("books",))
def list_categories():
    """By name; counts and prices over listed (not removed) books."""
    return {"items": fetch_all("SELECT name, slug, book_count, avg_price, min_price, max_price"
                               " FROM api.categories ORDER BY name")}
