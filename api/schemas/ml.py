"""The training data (features, rows, query), the price models and their predictions."""

from __future__ import annotations

from collections import namedtuple

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from api.schemas.common import Decimal2, doc
from ml.catalog import DRIVERS, NAIVE_RULES, TRADE_DATASETS

Feature = namedtuple("Feature", "name type description")  # type: a key of _FEATURE_FIELDS

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
    rows = fields.List(fields.Nested(TrainingRowSchema), required=True,
                       metadata=doc("One per listed book, by book_id."))


# --- Price models (ml/, ml.model_versions) ----------------------------------------------------------------------

MAX_INSTANCES = 1000
FAMILIES = ("all", "wine", "other")


class MetricsSchema(Schema):
    mae = fields.Float(required=True, metadata=doc("Mean absolute error, in the target's unit."))
    mape = fields.Float(required=True, metadata=doc("Mean absolute percentage error."))


class VersionMetricsSchema(Schema):
    model = fields.Nested(MetricsSchema, required=True, metadata=doc(
        "The trained model's (wine_price: the backtest at horizon 1, all trade rows)."))
    baseline = fields.Nested(MetricsSchema, required=True, metadata=doc(
        "The naive baseline's, on the same rows (wine_price: the strongest naive rule at horizon 1)."))


class TrainingSetSchema(Schema):
    crawl_run_ids = fields.List(fields.Integer(), required=True,
                                metadata=doc("The crawl runs that last changed the rows trained on."))
    data_version = fields.Integer(allow_none=True, metadata=doc("The source's data version when trained."))
    train_size = fields.Integer(required=True, metadata=doc("Rows trained on (wine_price: trade figures, all years)."))
    heldout_size = fields.Integer(required=True, metadata=doc(
        "Held-out rows the metrics are computed on (wine_price: backtest rows at horizon 1)."))


class ErrorsSchema(Schema):
    mae = fields.Float(required=True, metadata=doc("Mean absolute error, US$/kg."))
    median_ae = fields.Float(required=True, metadata=doc("Median absolute error, US$/kg."))
    mape = fields.Float(required=True, metadata=doc("Mean absolute percentage error."))
    coverage = fields.Dict(keys=fields.String(), values=fields.Float(), required=True, metadata=doc(
        'Share of actual prices inside the conformal interval, by level ("0.8", "0.95").'))


class FamilyBacktestSchema(Schema):
    rows = fields.Integer(required=True, metadata=doc("Forecasts scored: (series, origin) pairs."))
    series = fields.Integer(required=True, metadata=doc("Distinct (dataset, country) series among them."))
    model = fields.Nested(ErrorsSchema, required=True)
    naive = fields.Dict(keys=fields.String(validate=validate.OneOf(NAIVE_RULES)), values=fields.Nested(ErrorsSchema),
                        required=True, metadata=doc("Each naive rule: last_price, mean_3, median_3."))
    strongest_naive = fields.String(required=True, validate=validate.OneOf(NAIVE_RULES),
                                    metadata=doc("The naive rule with the lowest MAE here."))
    ratio = fields.Float(required=True, metadata=doc("Model MAE / strongest naive rule's MAE."))
    ratio_low = fields.Float(required=True, metadata=doc("2.5th percentile of the ratio, bootstrap over series."))
    ratio_high = fields.Float(required=True, metadata=doc("97.5th percentile of the ratio, bootstrap over series."))


class HorizonBacktestSchema(Schema):
    horizon = fields.Integer(required=True, validate=validate.Range(1, 3))
    origins = fields.List(fields.Integer(), required=True, metadata=doc("The forecast origins (years) scored."))
    configs = fields.List(fields.String(), required=True, metadata=doc(
        "Feature set / estimator settings chosen inside each fold, by origin."))
    serves = fields.String(required=True, metadata=doc("model, or the strongest naive rule (activation)."))
    families = fields.Dict(keys=fields.String(validate=validate.OneOf(FAMILIES)),
                           values=fields.Nested(FamilyBacktestSchema), required=True,
                           metadata=doc("all trade rows, wine (table wine and sparkling), other products."))


class BacktestSchema(Schema):
    forecast = fields.List(fields.Nested(HorizonBacktestSchema), required=True, metadata=doc("Horizons 1 to 3."))
    scenario = fields.List(fields.Nested(HorizonBacktestSchema), required=True, metadata=doc(
        "The model given the target year's real drivers, horizons 1 to 3."))


class HorizonSchema(Schema):
    scenario = fields.Boolean(required=True)
    horizon = fields.Integer(required=True, validate=validate.Range(1, 3))
    serves = fields.String(required=True, metadata=doc("model, or the naive rule served in its place."))
    strongest_naive = fields.String(required=True, validate=validate.OneOf(NAIVE_RULES))
    ratio = fields.Float(required=True)
    ratio_low = fields.Float(required=True)
    ratio_high = fields.Float(required=True, metadata=doc("The model is served only when this is below 1."))


class ModelVersionSchema(Schema):
    version = fields.Integer(required=True)
    status = fields.String(required=True, metadata=doc("active (served) or retired."))
    trained_at = fields.DateTime(required=True)
    serves = fields.String(required=True, metadata=doc(
        "model, or baseline when the model's held-out MAE was not lower than the baseline's"
        " (wine_price: model when some horizon serves it; see horizons)."))
    algorithm = fields.String(required=True, metadata=doc("The trained model's algorithm."))
    baseline = fields.String(required=True, metadata=doc("The naive rule it was compared with."))
    params = fields.Dict(required=True, metadata=doc("Feature set, estimator parameters, target, protocol."))
    features = fields.List(fields.String(), required=True, metadata=doc("Input columns of what is served."))
    training_data = fields.Nested(TrainingSetSchema, required=True)
    metrics = fields.Nested(VersionMetricsSchema, required=True)
    backtest = fields.Nested(BacktestSchema, allow_none=True, metadata=doc(
        "wine_price: the rolling-origin backtest per horizon; null for the other models."))
    horizons = fields.List(fields.Nested(HorizonSchema), allow_none=True, metadata=doc(
        "wine_price: what each horizon serves, forecast and scenario; null for the other models."))
    artifact_sha256 = fields.String(required=True)


class ModelSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    active_version = fields.Integer(allow_none=True, metadata=doc("null until `python -m ml train` registers one."))
    versions = fields.List(fields.Nested(ModelVersionSchema), required=True, metadata=doc("Newest first."))


class ModelListSchema(Schema):
    models = fields.List(fields.Nested(ModelSchema), required=True)


def _driver(description: str):
    return fields.Float(allow_nan=False, validate=validate.Range(min=0), metadata=doc(
        f"wine_price scenario: {description} in the target year; at most 100 times the largest observed."))


class InstanceSchema(Schema):
    """The fields of every model's instances; which ones a model needs is checked per model."""
    dataset = fields.String(validate=validate.OneOf(TRADE_DATASETS), metadata=doc("wine_price: a trade dataset."))
    country = fields.String(validate=validate.Length(1, 200), metadata=doc('wine_price: e.g. "Paraguai".'))
    year = fields.Integer(validate=validate.Range(1971, 2100), metadata=doc(
        "wine_price: a year with data (the observation) or 1 to 3 years past the data (a forecast)."))
    quantity_kg = _driver("the series' own quantity (kg)")
    production = _driver("Brazil's wine, juice and derivatives production (L)")
    processing = _driver("Brazil's grapes processed (kg)")
    commercialization = _driver("Brazil's commercialization of wine and derivatives (L)")
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
    levels = fields.List(fields.Float(validate=validate.Range(0.5, 0.99)), validate=validate.Length(1, 5),
                         metadata=doc("wine_price: the interval levels wanted (default [0.8]); the first is"
                                      " `interval`, all are in `intervals`."))
    instances = fields.List(fields.Nested(InstanceSchema), required=True,
                            validate=validate.Length(1, MAX_INSTANCES), metadata=doc(
                                "wine_price: {dataset, country, year} and optionally the target year's"
                                " quantity_kg, production, processing, commercialization; book_price: {book_id} or"
                                " {category, rating, availability, review_count, description_length}. At most 1000."))

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


class IntervalSchema(Schema):
    level = fields.Float(required=True)
    low = fields.Float(required=True, metadata=doc("US$/kg."))
    high = fields.Float(required=True, metadata=doc("US$/kg."))


class PredictionSchema(Schema):
    prediction = fields.Float(required=True, metadata=doc("wine_price: US$/kg; book_price: GBP."))
    instance = fields.Nested(InstanceSchema, required=True, metadata=doc("The instance, as given."))
    kind = fields.String(validate=validate.OneOf(["observed", "forecast", "scenario"]), metadata=doc(
        "wine_price: observed (the stored figure), forecast, or scenario (conditioned on the given drivers)."))
    horizon = fields.Integer(validate=validate.Range(0, 3), metadata=doc(
        "wine_price: years past the data; 0 for an observation."))
    served_by = fields.String(metadata=doc(
        "wine_price: model, a naive rule (last_price, mean_3, median_3) where the model did not beat it"
        " in the backtest, or observation."))
    interval = fields.Nested(IntervalSchema, allow_none=True, metadata=doc(
        "wine_price: the conformal interval at the first level asked; null for an observation."))
    intervals = fields.List(fields.Nested(IntervalSchema), metadata=doc("wine_price: one per level asked."))
    inputs = fields.List(fields.String(validate=validate.OneOf(DRIVERS)), metadata=doc(
        "wine_price: the drivers a scenario used; empty otherwise."))


class PredictionListSchema(Schema):
    model = fields.String(required=True)
    version = fields.Integer(required=True, metadata=doc("The active version that answered."))
    serves = fields.String(required=True, metadata=doc(
        "book_price: model or baseline; wine_price: what each horizon serves (see GET /api/v1/ml/models)."))
    algorithm = fields.String(required=True, metadata=doc("What computed the predictions."))
    predictions = fields.List(fields.Nested(PredictionSchema), required=True, metadata=doc("In the instances' order."))
