"""Every query string the API accepts and every body it returns, as marshmallow
schemas: they validate input, shape output and generate the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

SORT_FIELDS = ("id", "title", "price", "rating", "availability")
MAX_PRICE = 10**10  # books.price is numeric(12,2)
CRAWL_STATUSES = ("running", "finished", "partial", "failed", "interrupted")


class Decimal2(fields.Decimal):
    """A numeric(_, 2) as a JSON number. A float prints as the shortest string
    that reads back to it, so any amount under 15 significant digits comes out
    exactly as stored: 51.77, never 51.770000000000003."""

    def __init__(self, **kwargs):
        super().__init__(places=2, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        amount = super()._serialize(value, attr, obj, **kwargs)
        return None if amount is None else float(amount)


def _doc(text: str) -> dict:
    return {"description": text}


# --- query strings -----------------------------------------------------------

class NoQuery(Schema):
    """Endpoints without parameters still reject unknown ones."""


class BooksQuery(Schema):
    category = fields.String(validate=validate.Length(1, 100),
                             metadata=_doc("Category name (any case) or slug, e.g. 'Historical Fiction' or 'historical-fiction'."))
    # Prices are whole cents: rounding a bound outward to cents changes no answer.
    min_price = fields.Decimal(places=2, rounding=ROUND_CEILING, validate=validate.Range(0, MAX_PRICE),
                               metadata=_doc("Lowest price incl. tax (inclusive)."))
    max_price = fields.Decimal(places=2, rounding=ROUND_FLOOR, validate=validate.Range(0, MAX_PRICE),
                               metadata=_doc("Highest price incl. tax (inclusive)."))
    rating = fields.Integer(validate=validate.Range(1, 5), metadata=_doc("Exact star rating."))
    min_rating = fields.Integer(validate=validate.Range(1, 5), metadata=_doc("Lowest star rating."))
    in_stock = fields.Boolean(metadata=_doc("true: availability > 0; false: out of stock."))
    q = fields.String(validate=validate.Length(1, 200), metadata=_doc("Case-insensitive substring of the title."))
    include_removed = fields.Boolean(load_default=False,
                                     metadata=_doc("Include books a complete crawl no longer found."))
    sort = fields.String(load_default="id",
                         validate=validate.OneOf([f"{sign}{name}" for name in SORT_FIELDS for sign in ("", "-")]),
                         metadata=_doc("Sort field; '-' prefix for descending. Ties are broken by id."))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100), metadata=_doc("Page size."))
    cursor = fields.String(validate=validate.Length(1, 500),
                           metadata=_doc("next_cursor of the previous page, with the same filters and sort."))

    @validates_schema
    def _price_range(self, data, **kwargs):
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be less than min_price.", "max_price")


class CrawlsQuery(Schema):
    spider = fields.String(validate=validate.Length(1, 100), metadata=_doc("Only runs of this spider."))
    status = fields.String(validate=validate.OneOf(CRAWL_STATUSES), metadata=_doc("Only runs with this status."))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100), metadata=_doc("How many, newest first."))


class TrainingDataQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata=_doc("json (an object with rows) or csv (a header line, then one line per book)."))


# --- request bodies ----------------------------------------------------------

class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024))


# --- responses ---------------------------------------------------------------

class ErrorSchema(Schema):
    status = fields.Integer(required=True, metadata=_doc("The HTTP status."))
    error = fields.String(required=True, metadata=_doc("Machine-readable code, e.g. bad_request, token_expired."))
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata=_doc("Per-field messages, for invalid input."))


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata=_doc("Always Bearer."))
    expires_in = fields.Integer(required=True, metadata=_doc("Lifetime of the access token, in seconds."))


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class CrawlRunSchema(Schema):
    id = fields.Integer(required=True)
    spider = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CRAWL_STATUSES))
    args = fields.Dict(metadata=_doc("Spider arguments."))
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    finish_reason = fields.String(allow_none=True)
    complete = fields.Boolean(allow_none=True, metadata=_doc("Every page answered and every item was valid."))
    inserted = fields.Integer(allow_none=True)
    updated = fields.Integer(allow_none=True)
    unchanged = fields.Integer(allow_none=True)
    removed = fields.Integer(allow_none=True)
    rejected = fields.Integer(allow_none=True)
    duplicates = fields.Integer(allow_none=True)


class CrawlListSchema(Schema):
    items = fields.List(fields.Nested(CrawlRunSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata=_doc("ok"))
    database = fields.String(required=True, metadata=_doc("up"))
    schema_version = fields.String(allow_none=True, metadata=_doc("Last applied migration."))
    last_crawls = fields.List(fields.Nested(CrawlRunSchema), required=True,
                              metadata=_doc("The last finished run of each spider."))


class BookSchema(Schema):
    id = fields.Integer(required=True, metadata=_doc("The site's id: a-light-in-the-attic_1000 -> 1000."))
    upc = fields.String(required=True)
    title = fields.String(required=True)
    category_id = fields.Integer(required=True)
    category = fields.String(required=True, metadata=_doc("Category name."))
    category_slug = fields.String(required=True)
    price = Decimal2(required=True, metadata=_doc("Price incl. tax."))
    price_excl_tax = Decimal2(required=True)
    price_incl_tax = Decimal2(required=True)
    tax = Decimal2(required=True)
    availability = fields.Integer(required=True, metadata=_doc("Units in stock."))
    rating = fields.Integer(required=True, metadata=_doc("1 to 5 stars."))
    review_count = fields.Integer(required=True)
    description = fields.String(allow_none=True)
    image_url = fields.String(required=True)
    url = fields.String(required=True)
    first_seen_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    removed_at = fields.DateTime(allow_none=True, metadata=_doc("Set when a complete crawl no longer found it."))
    updated_at = fields.DateTime(required=True)
    last_run_id = fields.Integer(required=True, metadata=_doc("The crawl run that last changed it."))


class BookPageSchema(Schema):
    items = fields.List(fields.Nested(BookSchema), required=True)
    next_cursor = fields.String(allow_none=True, metadata=_doc("Pass as cursor for the next page; null on the last."))
    total = fields.Integer(required=True, metadata=_doc("Books matching the filters, over all pages."))


class HistoryEntrySchema(Schema):
    price = Decimal2(required=True)
    availability = fields.Integer(required=True)
    rating = fields.Integer(required=True)
    valid_from = fields.DateTime(required=True)
    valid_to = fields.DateTime(allow_none=True, metadata=_doc("null for the current version."))
    run_id = fields.Integer(required=True, metadata=_doc("The crawl run that saw this version first."))


class BookHistorySchema(Schema):
    book_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(HistoryEntrySchema), required=True, metadata=_doc("Oldest first."))


class CategorySchema(Schema):
    name = fields.String(required=True)
    slug = fields.String(required=True)
    book_count = fields.Integer(required=True)
    avg_price = Decimal2(allow_none=True)
    min_price = Decimal2(allow_none=True)
    max_price = Decimal2(allow_none=True)


class CategoryListSchema(Schema):
    items = fields.List(fields.Nested(CategorySchema), required=True)


class CategoryStatsSchema(CategorySchema):
    in_stock = fields.Integer(required=True)
    units = fields.Integer(required=True, metadata=_doc("Sum of availability."))
    avg_rating = Decimal2(allow_none=True)


class CategoryStatsListSchema(Schema):
    items = fields.List(fields.Nested(CategoryStatsSchema), required=True)


class PriceSummarySchema(Schema):
    min = Decimal2(allow_none=True)
    max = Decimal2(allow_none=True)
    avg = Decimal2(allow_none=True)


class StatsSchema(Schema):
    books = fields.Integer(required=True, metadata=_doc("Listed books (removed ones excluded, as below)."))
    removed = fields.Integer(required=True)
    in_stock = fields.Integer(required=True)
    out_of_stock = fields.Integer(required=True)
    units = fields.Integer(required=True, metadata=_doc("Sum of availability."))
    categories = fields.Integer(required=True, metadata=_doc("Categories with at least one listed book."))
    price = fields.Nested(PriceSummarySchema, required=True)
    rating_distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                                      metadata=_doc('Books per rating, "1" to "5".'))
    last_crawl = fields.Nested(CrawlRunSchema, allow_none=True, metadata=_doc("The last finished books crawl."))


# --- machine learning ----------------------------------------------------------

@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # identifier | categorical | number | integer | boolean
    description: str


# The columns of the api.training_data view, in order.
FEATURES = (
    Feature("book_id", "identifier", "The site's book id; not a feature, a key."),
    Feature("category", "categorical", "Category name."),
    Feature("price", "number", "Price incl. tax."),
    Feature("price_excl_tax", "number", "Price excl. tax."),
    Feature("tax", "number", "Tax amount."),
    Feature("availability", "integer", "Units in stock."),
    Feature("in_stock", "boolean", "availability > 0."),
    Feature("rating", "integer", "Star rating, 1 to 5."),
    Feature("review_count", "integer", "Number of reviews."),
    Feature("description_length", "integer", "Characters in the description; 0 when there is none."),
    Feature("title_length", "integer", "Characters in the title."),
)
_FEATURE_FIELDS = {"identifier": fields.Integer, "categorical": fields.String, "number": Decimal2,
                   "integer": fields.Integer, "boolean": fields.Boolean}

TrainingRowSchema = Schema.from_dict(
    {f.name: _FEATURE_FIELDS[f.type](required=True, metadata=_doc(f.description)) for f in FEATURES},
    name="TrainingRowSchema",
)


class FeatureSchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(sorted(_FEATURE_FIELDS)))
    description = fields.String(required=True)


class FeatureListSchema(Schema):
    features = fields.List(fields.Nested(FeatureSchema), required=True)
    crawl_run_id = fields.Integer(allow_none=True,
                                  metadata=_doc("The crawl run whose result the training data currently reflects."))


class TrainingDataSchema(Schema):
    crawl_run_id = fields.Integer(allow_none=True, metadata=_doc(
        "The last crawl run that changed the books: the rows are the state it left (also in X-Crawl-Run-Id)."))
    features = fields.List(fields.String(), required=True, metadata=_doc("Column names, in order."))
    rows = fields.List(fields.Nested(TrainingRowSchema), required=True, metadata=_doc("One per listed book, by book_id."))
