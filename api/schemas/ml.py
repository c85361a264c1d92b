"""The training data: its features, rows and query."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, fields, validate

from api.schemas.common import Decimal2, doc


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
    {f.name: _FEATURE_FIELDS[f.type](required=True, metadata=doc(f.description)) for f in FEATURES},
    name="TrainingRowSchema",
)


class TrainingDataQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata=doc("json (an object with rows) or csv (a header line, then one line per book)."))


class FeatureSchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(sorted(_FEATURE_FIELDS)))
    description = fields.String(required=True)


class FeatureListSchema(Schema):
    features = fields.List(fields.Nested(FeatureSchema), required=True)
    crawl_run_id = fields.Integer(allow_none=True,
                                  metadata=doc("The crawl run whose result the training data currently reflects."))


class TrainingDataSchema(Schema):
    crawl_run_id = fields.Integer(allow_none=True, metadata=doc(
        "The last crawl run that changed the books: the rows are the state it left (also in X-Crawl-Run-Id)."))
    features = fields.List(fields.String(), required=True, metadata=doc("Column names, in order."))
    rows = fields.List(fields.Nested(TrainingRowSchema), required=True, metadata=doc("One per listed book, by book_id."))
