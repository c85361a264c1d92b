"""Query strings of the brief's endpoint names (api/brief.py): the books listing's own
fields, some under the brief's names, so they validate and document exactly alike."""

from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from api.schemas.books import BooksQuery


def _named(field: str, key: str):
    """BooksQuery's ``field``, sent as ``key``."""
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
        if data.get("min_price") is not None and data.get("max_price") is not None \
                and data["min_price"] > data["max_price"]:
            raise ValidationError("Must not be less than min.", "max")
