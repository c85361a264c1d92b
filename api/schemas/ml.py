"""The training data: its features, rows and query."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, ValidationError, fields, pre_load, validate

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


# --- Price models (ml/, ml.model_versions) ----------------------------------------------------------------------

MAX_INSTANCES = 1000
TRADE_DATASETS = ("import_table_wine", "import_sparkling", "import_fresh_grapes", "import_raisins",
                  "import_grape_juice", "export_table_wine", "export_sparkling", "export_fresh_grapes",
                  "export_grape_juice")


class MetricsSchema(Schema):
    mae = fields.Float(required=True, metadata=doc("Mean absolute error on the held-out rows, in the target's unit."))
    mape = fields.Float(required=True, metadata=doc("Mean absolute percentage error on the held-out rows."))


class VersionMetricsSchema(Schema):
    model = fields.Nested(MetricsSchema, required=True, metadata=doc("The trained model's."))
    baseline = fields.Nested(MetricsSchema, required=True, metadata=doc("The naive baseline's, on the same rows."))


class TrainingSetSchema(Schema):
    crawl_run_ids = fields.List(fields.Integer(), required=True,
                                metadata=doc("The crawl runs that last changed the rows trained on."))
    data_version = fields.Integer(allow_none=True, metadata=doc("The source's data version when trained."))
    train_size = fields.Integer(required=True, metadata=doc("Rows the evaluated model was trained on."))
    heldout_size = fields.Integer(required=True, metadata=doc("Held-out rows both metrics are computed on."))


class ModelVersionSchema(Schema):
    version = fields.Integer(required=True)
    status = fields.String(required=True, metadata=doc("active (served) or retired."))
    trained_at = fields.DateTime(required=True)
    serves = fields.String(required=True, metadata=doc(
        "model, or baseline when the model's held-out MAE was not lower than the baseline's."))
    algorithm = fields.String(required=True, metadata=doc("The trained model's algorithm."))
    baseline = fields.String(required=True, metadata=doc("The naive rule it was compared with."))
    params = fields.Dict(required=True, metadata=doc("Feature set, estimator parameters, target."))
    features = fields.List(fields.String(), required=True, metadata=doc("Input columns of what is served."))
    training_data = fields.Nested(TrainingSetSchema, required=True)
    metrics = fields.Nested(VersionMetricsSchema, required=True)
    artifact_sha256 = fields.String(required=True)


class ModelSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    active_version = fields.Integer(allow_none=True, metadata=doc("null until `python -m ml train` registers one."))
    versions = fields.List(fields.Nested(ModelVersionSchema), required=True, metadata=doc("Newest first."))


class ModelListSchema(Schema):
    models = fields.List(fields.Nested(ModelSchema), required=True)


class InstanceSchema(Schema):
    """The fields of every model's instances; which ones a model needs is checked per model."""
    dataset = fields.String(validate=validate.OneOf(TRADE_DATASETS), metadata=doc("wine_price: a trade dataset."))
    country = fields.String(validate=validate.Length(1, 200), metadata=doc('wine_price: e.g. "Paraguai".'))
    year = fields.Integer(validate=validate.Range(1971, 2100), metadata=doc("wine_price: the year to forecast."))
    book_id = fields.Integer(validate=validate.Range(1, 2**31 - 1),
                             metadata=doc("book_price: a listed book, instead of the fields below."))
    category = fields.String(validate=validate.Length(1, 200), metadata=doc('book_price: e.g. "Poetry".'))
    rating = fields.Integer(validate=validate.Range(1, 5), metadata=doc("book_price: stars."))
    availability = fields.Integer(validate=validate.Range(0, 10**6), metadata=doc("book_price: units in stock."))
    review_count = fields.Integer(validate=validate.Range(0, 10**6), metadata=doc("book_price: reviews."))
    description_length = fields.Integer(validate=validate.Range(0, 10**6),
                                        metadata=doc("book_price: characters of the description."))


_instance = InstanceSchema()


class PredictionRequestSchema(Schema):
    model = fields.String(required=True, validate=validate.Length(1, 100), metadata=doc("wine_price or book_price."))
    instances = fields.List(fields.Nested(InstanceSchema), required=True,
                            validate=validate.Length(1, MAX_INSTANCES), metadata=doc(
                                "wine_price: {dataset, country, year}; book_price: {book_id} or {category, rating,"
                                " availability, review_count, description_length}. At most 1000."))

    @pre_load
    def _flat_instance_errors(self, data, **kwargs):
        """Errors per instance and field ("instances[3].year"), as the one error shape has them."""
        instances = data.get("instances") if isinstance(data, dict) else None
        if isinstance(instances, list) and len(instances) <= MAX_INSTANCES:
            errors = {}
            for i, item in enumerate(instances):
                if not isinstance(item, dict):
                    errors[f"instances[{i}]"] = ["Not an object."]
                    continue
                for name, messages in _instance.validate(item).items():
                    errors[f"instances[{i}].{name}"] = messages if isinstance(messages, list) else [str(messages)]
            if errors:
                raise ValidationError(errors)
        return data


class PredictionSchema(Schema):
    prediction = fields.Float(required=True, metadata=doc("wine_price: US$/kg; book_price: GBP."))
    instance = fields.Nested(InstanceSchema, required=True, metadata=doc("The instance, as given."))


class PredictionListSchema(Schema):
    model = fields.String(required=True)
    version = fields.Integer(required=True, metadata=doc("The active version that answered."))
    serves = fields.String(required=True, metadata=doc("model, or baseline (see GET /api/v1/ml/models)."))
    algorithm = fields.String(required=True, metadata=doc("What computed the predictions."))
    predictions = fields.List(fields.Nested(PredictionSchema), required=True, metadata=doc("In the instances' order."))
