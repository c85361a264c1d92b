"""Marshmallow schemas the validation pipeline checks items against, by item class."""

import hashlib

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from crawler.items import BookItem, ObservationItem, RawFileItem
from crawler.vitibrasil.datasets import DATASETS, FIRST_YEAR

_money = dict(required=True, places=2, validate=validate.Range(min=0))
_http_url = dict(required=True, schemes={"http", "https"})


class BookSchema(Schema):
    id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    upc = fields.String(required=True, validate=validate.Length(min=1))
    title = fields.String(required=True, validate=validate.Length(min=1))
    category = fields.String(required=True, validate=validate.Length(min=1))
    price = fields.Decimal(**_money)
    price_excl_tax = fields.Decimal(**_money)
    price_incl_tax = fields.Decimal(**_money)
    tax = fields.Decimal(**_money)
    availability = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    review_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    description = fields.String(required=True, allow_none=True)
    image_url = fields.Url(**_http_url)
    url = fields.Url(**_http_url)
    scraped_at = fields.AwareDateTime(required=True)


_dataset = dict(required=True, validate=validate.OneOf(DATASETS))
_year = dict(strict=True, validate=validate.Range(min=FIRST_YEAR, max=2100))
_figure = dict(required=True, allow_none=True, validate=validate.Range(min=0))  # None: unknown at the source


class ObservationSchema(Schema):
    dataset = fields.String(**_dataset)
    year = fields.Integer(required=True, **_year)
    category = fields.String(required=True, allow_none=True, validate=validate.Length(min=1))
    item = fields.String(required=True, validate=validate.Length(min=1))
    is_category = fields.Boolean(required=True, truthy={True}, falsy={False})
    quantity = fields.Decimal(**_figure)
    value_usd = fields.Decimal(**_figure)

    @validates_schema
    def _shape_of_its_table(self, data, **kwargs):
        if DATASETS[data["dataset"]].is_trade:
            if data["category"] is not None or data["is_category"]:
                raise ValidationError("Trade tables have no categories.", "category")
        elif data["value_usd"] is not None:
            raise ValidationError("Only trade tables have a US$ value.", "value_usd")
        if data["is_category"] and data["category"] != data["item"]:
            raise ValidationError("A category row is its own category.", "category")


class RawFileSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp("^[0-9a-f]{64}$"))
    dataset = fields.String(**_dataset)
    kind = fields.String(required=True, validate=validate.OneOf(["csv", "page"]))
    year = fields.Integer(required=True, allow_none=True, **_year)
    url = fields.Url(**_http_url)
    content_type = fields.String(required=True, allow_none=True)
    body = fields.Raw(required=True, validate=lambda body: isinstance(body, bytes) and len(body) > 0)
    fetched_at = fields.AwareDateTime(required=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        if (data["kind"] == "page") != (data["year"] is not None):
            raise ValidationError("Pages have a year, CSV files do not.", "year")
        if hashlib.sha256(data["body"]).hexdigest() != data["sha256"]:
            raise ValidationError("Not the SHA-256 of body.", "sha256")


SCHEMAS = {BookItem: BookSchema, ObservationItem: ObservationSchema, RawFileItem: RawFileSchema}
