"""The endpoint names of the books challenge's brief (docs/api.md), as aliases running the code of their long
form (api/books.py, api/stats.py), with the same paging, errors and ETags."""

from __future__ import annotations

import dataclasses
import functools

from flask import Blueprint
from marshmallow import validates_schema

from api import books, stats
from api.operation import operation
from api.schemas.books import BookPageSchema, BooksQuery
from api.schemas.common import check_order

bp = Blueprint("brief", __name__, url_prefix="/api/v1")

LISTING = BooksQuery().load({})  # the long form's defaults: listed books only, by id


def _named(field: str, key: str):
    """BooksQuery's ``field``, sent as ``key``: the brief's queries validate and document as the listing's."""
    renamed = BooksQuery().declared_fields[field]  # a deep copy per instance (public API)
    renamed.data_key = key
    return renamed


class SearchQuery(BooksQuery):
    q = _named("q", "title")

    class Meta:
        fields = ("q", "category", "limit", "cursor")


class TopRatedQuery(BooksQuery):
    class Meta:
        fields = ("limit", "cursor")


class PriceRangeQuery(BooksQuery):
    min_price = _named("min_price", "min")
    max_price = _named("max_price", "max")

    class Meta:
        fields = ("min_price", "max_price", "limit", "cursor")

    @validates_schema
    def _price_range(self, data, **kwargs):  # BooksQuery's check, under the names sent
        check_order({"min": data.get("min_price"), "max": data.get("max_price")}, "min", "max")


@bp.get("/books/search")
@operation("Search books by title and category", query=SearchQuery, response=BookPageSchema, versions=("books",))
def search(args):
    """The brief's name for `GET /api/v1/books?q=…&category=…`: `title` is a case-insensitive
    substring of the title, `category` a name (any case) or slug; both optional, combinable."""
    return books.book_page({**LISTING, **args})


@bp.get("/books/top-rated")
@operation("Top-rated books", query=TopRatedQuery, response=BookPageSchema, versions=("books",))
def top_rated(args):
    """The brief's name for `GET /api/v1/books?sort=-rating`: highest rating first,
    ties by id (descending, like the sort); `limit` at a time, then `cursor`."""
    return books.book_page({**LISTING, **args, "sort": "-rating"})


@bp.get("/books/price-range")
@operation("Books in a price range", query=PriceRangeQuery, response=BookPageSchema, versions=("books",))
def price_range(args):
    """The brief's name for `GET /api/v1/books?min_price=…&max_price=…`: prices incl. tax
    between `min` and `max`, both inclusive, in the listing's order (by id)."""
    return books.book_page({**LISTING, **args})


def alias(view, long_form: str):
    """``view`` itself under another path (same parsing, ETags, answer), documented as an alias."""

    @functools.wraps(view)  # also copies the view's marks: its @operation, its data versions
    def aliased(**kwargs):
        return view(**kwargs)

    declared = view.operation
    aliased.operation = dataclasses.replace(
        declared, description=f"The brief's name for `GET {long_form}`: the same answer.\n\n{declared.description}")
    return aliased


bp.add_url_rule("/stats/overview", "stats_overview", alias(stats.stats, "/api/v1/stats"), methods=["GET"])
