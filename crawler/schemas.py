"""Marshmallow schemas the validation pipeline checks items against, by item class."""

from marshmallow import Schema, fields, validate

from crawler.items import BookItem

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


SCHEMAS = {BookItem: BookSchema}
