"""Books, their history, categories and the catalogue statistics."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR

from marshmallow import Schema, fields, validate, validates_schema

from api.schemas.common import CURSOR_PATTERN, CentBound, Decimal2, check_order, doc, page_schema
from api.schemas.crawls import CrawlRunSchema

SORT_FIELDS = ("id", "title", "price", "rating", "availability")
MAX_PRICE = 10**10  # books.price is numeric(12,2)


class BooksQuery(Schema):
    category = fields.String(validate=validate.Length(1, 100),
                             metadata=doc("Category name (any case) or slug, e.g. 'Historical Fiction' or 'historical-fiction'."))
    # Prices are whole cents: rounding a bound outward to cents changes no answer.
    min_price = CentBound(rounding=ROUND_CEILING, validate=validate.Range(0, MAX_PRICE),
                          metadata=doc("Lowest price incl. tax (inclusive)."))
    max_price = CentBound(rounding=ROUND_FLOOR, validate=validate.Range(0, MAX_PRICE),
                          metadata=doc("Highest price incl. tax (inclusive)."))
    rating = fields.Integer(validate=validate.Range(1, 5), metadata=doc("Exact star rating."))
    min_rating = fields.Integer(validate=validate.Range(1, 5), metadata=doc("Lowest star rating."))
    in_stock = fields.Boolean(metadata=doc("true: availability > 0; false: out of stock."))
    q = fields.String(validate=validate.Length(1, 200), metadata=doc("Case-insensitive substring of the title."))
    include_removed = fields.Boolean(load_default=False,
                                     metadata=doc("Include books a complete crawl no longer found."))
    sort = fields.String(load_default="id",
                         validate=validate.OneOf([f"{sign}{name}" for name in SORT_FIELDS for sign in ("", "-")]),
                         metadata=doc("Sort field; '-' prefix for descending. Ties are broken by id."))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100), metadata=doc("Page size."))
    cursor = fields.String(validate=[validate.Length(1, 500), validate.Regexp(CURSOR_PATTERN)],
                           metadata=doc("next_cursor of the previous page, with the same filters and sort."))

    @validates_schema
    def _price_range(self, data, **kwargs):
        check_order(data, "min_price", "max_price")


class BookSchema(Schema):
    id = fields.Integer(required=True, metadata=doc("The site's id: a-light-in-the-attic_1000 -> 1000."))
    upc = fields.String(required=True)
    title = fields.String(required=True)
    category_id = fields.Integer(required=True)
    category = fields.String(required=True, metadata=doc("Category name."))
    category_slug = fields.String(required=True)
    price = Decimal2(required=True, metadata=doc("Price incl. tax."))
    price_excl_tax = Decimal2(required=True)
    price_incl_tax = Decimal2(required=True)
    tax = Decimal2(required=True)
    availability = fields.Integer(required=True, metadata=doc("Units in stock."))
    rating = fields.Integer(required=True, metadata=doc("1 to 5 stars."))
    review_count = fields.Integer(required=True)
    description = fields.String(allow_none=True)
    image_url = fields.String(required=True)
    url = fields.String(required=True)
    first_seen_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    removed_at = fields.DateTime(allow_none=True, metadata=doc("Set when a complete crawl no longer found it."))
    updated_at = fields.DateTime(required=True)
    last_run_id = fields.Integer(required=True, metadata=doc("The crawl run that last changed it."))


BookPageSchema = page_schema("BookPageSchema", BookSchema, "Books")


class HistoryEntrySchema(Schema):
    price = Decimal2(required=True)
    availability = fields.Integer(required=True)
    rating = fields.Integer(required=True)
    valid_from = fields.DateTime(required=True)
    valid_to = fields.DateTime(allow_none=True, metadata=doc("null for the current version."))
    run_id = fields.Integer(required=True, metadata=doc("The crawl run that saw this version first."))


class BookHistorySchema(Schema):
    book_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(HistoryEntrySchema), required=True, metadata=doc("Oldest first."))


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
    units = fields.Integer(required=True, metadata=doc("Sum of availability."))
    avg_rating = Decimal2(allow_none=True)


class CategoryStatsListSchema(Schema):
    items = fields.List(fields.Nested(CategoryStatsSchema), required=True)


class PriceSummarySchema(Schema):
    min = Decimal2(allow_none=True)
    max = Decimal2(allow_none=True)
    avg = Decimal2(allow_none=True)


class StatsSchema(Schema):
    books = fields.Integer(required=True, metadata=doc("Listed books (removed ones excluded, as below)."))
    removed = fields.Integer(required=True)
    in_stock = fields.Integer(required=True)
    out_of_stock = fields.Integer(required=True)
    units = fields.Integer(required=True, metadata=doc("Sum of availability."))
    categories = fields.Integer(required=True, metadata=doc("Categories with at least one listed book."))
    price = fields.Nested(PriceSummarySchema, required=True)
    rating_distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                                      metadata=doc('Books per rating, "1" to "5".'))
    last_crawl = fields.Nested(CrawlRunSchema, allow_none=True, metadata=doc("The last finished books crawl."))


class BookFiguresQuery(Schema):
    category = fields.String(validate=validate.Length(1, 100),
                             metadata=doc("Category name (any case) or slug; all categories when unset."))
    min_rating = fields.Integer(validate=validate.Range(1, 5), metadata=doc("Lowest star rating."))
    in_stock = fields.Boolean(metadata=doc("true: books in stock only; false: out of stock only."))


class PriceBucketSchema(Schema):
    low = Decimal2(required=True, metadata=doc("Bucket's lowest price (inclusive), GBP."))
    high = Decimal2(required=True, metadata=doc("Bucket's upper bound (exclusive): low + bucket_width."))
    books = fields.Integer(required=True)


class CategoryBucketSchema(PriceBucketSchema):
    category = fields.String(required=True)
    category_slug = fields.String(required=True)


class RatingBucketSchema(PriceBucketSchema):
    rating = fields.Integer(required=True)


class RatingFiguresSchema(Schema):
    rating = fields.Integer(required=True)
    books = fields.Integer(required=True)
    avg_price = Decimal2(required=True)


class CategoryStockSchema(Schema):
    category = fields.String(required=True)
    category_slug = fields.String(required=True)
    in_stock = fields.Integer(required=True, metadata=doc("Listed books with at least one unit."))
    out_of_stock = fields.Integer(required=True)
    units = fields.Integer(required=True, metadata=doc("Sum of availability."))


class BookFiguresSchema(Schema):
    bucket_width = Decimal2(required=True, metadata=doc("Width of a price bucket, GBP."))
    books = fields.Integer(required=True, metadata=doc("Listed books matching the filters."))
    units = fields.Integer(required=True)
    avg_price = Decimal2(allow_none=True)
    price_histogram = fields.List(fields.Nested(CategoryBucketSchema), required=True,
                                  metadata=doc("Books per category and price bucket."))
    rating_price = fields.List(fields.Nested(RatingBucketSchema), required=True,
                               metadata=doc("Books per rating and price bucket."))
    ratings = fields.List(fields.Nested(RatingFiguresSchema), required=True,
                          metadata=doc("Books and average price per rating."))
    stock = fields.List(fields.Nested(CategoryStockSchema), required=True, metadata=doc("Per category."))


class BookChangesQuery(Schema):
    category = fields.String(validate=validate.Length(1, 100),
                             metadata=doc("Category name (any case) or slug; all categories when unset."))
    since = fields.Date(metadata=doc("First day (inclusive), e.g. 2026-01-31."))


class BookChangeDaySchema(Schema):
    day = fields.Date(required=True, metadata=doc("Day of the crawl that saw the changes."))
    added = fields.Integer(required=True, metadata=doc("Books seen for the first time."))
    price_up = fields.Integer(required=True)
    price_down = fields.Integer(required=True)
    price_delta = Decimal2(required=True, metadata=doc("Sum of the price changes, GBP."))
    stock_change = fields.Integer(required=True, metadata=doc("Books whose stock changed."))
    removed = fields.Integer(required=True, metadata=doc("Books a complete crawl no longer found."))


class BookChangesSchema(Schema):
    items = fields.List(fields.Nested(BookChangeDaySchema), required=True, metadata=doc("Oldest day first."))
