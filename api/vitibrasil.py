"""``/api/v1/vitibrasil``: Embrapa's grape, wine and derivatives statistics (datasets, then their figures).
Observations come by (year, id): a year's rows in the site's order (a category row, then its items)."""

from __future__ import annotations

from flask import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api import csvstream, paging
from api.db import fetch_all, fetch_one
from api.errors import ApiError
from api.operation import operation
from api.schemas.common import CURSOR_PATTERN, Figure, check_order, doc, page_schema

bp = Blueprint("vitibrasil", __name__, url_prefix="/api/v1/vitibrasil")

DEFAULT_LIMIT = 100
# The names migrations/0003_vitibrasil.sql seeds into vitibrasil.datasets, in the site's order.
DATASETS = ("production", "processing_viniferas", "processing_american_hybrid", "processing_table_grapes",
            "processing_unclassified", "commercialization", "import_table_wine", "import_sparkling",
            "import_fresh_grapes", "import_raisins", "import_grape_juice", "export_table_wine", "export_sparkling",
            "export_fresh_grapes", "export_grape_juice")
_years = validate.Range(1970, 2100)


class ObservationsQuery(Schema):
    dataset = fields.String(required=True, validate=validate.OneOf(DATASETS),
                            metadata=doc("Dataset name, e.g. production (see /api/v1/vitibrasil/datasets)."))
    year = fields.Integer(validate=_years, metadata=doc("Only this year."))
    from_year = fields.Integer(validate=_years, metadata=doc("First year (inclusive)."))
    to_year = fields.Integer(validate=_years, metadata=doc("Last year (inclusive)."))
    category = fields.String(validate=validate.Length(1, 200),
                             metadata=doc('Exact category, e.g. "VINHO DE MESA" (volume datasets only).'))
    item = fields.String(validate=validate.Length(1, 200),
                         metadata=doc('Exact item: product, cultivar or country, e.g. "Tinto" or "Chile".'))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata=doc("json (a page of items) or csv (every matching row, one file)."))
    limit = fields.Integer(validate=validate.Range(1, 1000),
                           metadata={**doc("Page size (format=json only)."), "default": DEFAULT_LIMIT})
    cursor = fields.String(validate=[validate.Length(1, 500), validate.Regexp(CURSOR_PATTERN)],
                           metadata=doc("next_cursor of the previous page, with the same filters (format=json only)."))

    @validates_schema
    def _coherent(self, data, **kwargs):
        check_order(data, "from_year", "to_year")
        if data["format"] == "csv" and (misplaced := [name for name in ("limit", "cursor") if name in data]):
            raise ValidationError({name: ["Paging is for format=json; format=csv returns every matching row."]
                                   for name in misplaced})


class DatasetSchema(Schema):
    name = fields.String(required=True, metadata=doc("The dataset's name in this API."))
    label = fields.String(required=True, metadata=doc("Its heading on the site, in Portuguese."))
    unit = fields.String(required=True, metadata=doc("Unit of quantity: L (litres) or kg."))
    kind = fields.String(required=True, metadata=doc("volume (quantity only) or trade (quantity and value_usd)."))
    first_year = fields.Integer(allow_none=True, metadata=doc("First year stored; null before the first crawl."))
    last_year = fields.Integer(allow_none=True)
    row_count = fields.Integer(required=True, metadata=doc("Observations stored."))
    last_updated = fields.DateTime(allow_none=True, metadata=doc("When a crawl last changed one of its figures."))


class DatasetListSchema(Schema):
    items = fields.List(fields.Nested(DatasetSchema), required=True, metadata=doc("In the site's order."))


class ObservationSchema(Schema):
    dataset = fields.String(required=True)
    year = fields.Integer(required=True)
    category = fields.String(allow_none=True,
                             metadata=doc('Upper-level group, e.g. "VINHO DE MESA"; null in trade datasets.'))
    item = fields.String(required=True, metadata=doc("Product, cultivar or country."))
    is_category = fields.Boolean(required=True, metadata=doc("The category's own row, holding its total."))
    quantity = Figure(allow_none=True, metadata=doc("In unit; null when the source marks it unknown (nd, *, +)."))
    value_usd = Figure(allow_none=True, metadata=doc("US$, trade datasets only; null otherwise or when unknown."))
    unit = fields.String(required=True)
    first_seen_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True, metadata=doc("When a crawl last changed the figures."))
    run_id = fields.Integer(required=True, metadata=doc("The crawl run that last changed it."))


ObservationPageSchema = page_schema("ObservationPageSchema", ObservationSchema, "Observations")


class SeriesQuery(Schema):
    dataset = fields.String(required=True, validate=validate.OneOf(DATASETS), metadata=doc("Dataset name."))


class SeriesSchema(Schema):
    category = fields.String(allow_none=True, metadata=doc("null in trade datasets."))
    item = fields.String(required=True, metadata=doc("Product, cultivar or country."))
    is_category = fields.Boolean(required=True, metadata=doc("The category's own row, holding its total."))
    first_year = fields.Integer(required=True)
    last_year = fields.Integer(required=True)
    quantity = Figure(allow_none=True, metadata=doc("Over all years, in unit; null when every figure is unknown."))
    value_usd = Figure(allow_none=True, metadata=doc("Over all years, US$ (trade datasets)."))


class SeriesListSchema(Schema):
    dataset = fields.String(required=True)
    unit = fields.String(required=True)
    items = fields.List(fields.Nested(SeriesSchema), required=True,
                        metadata=doc("Categories first, then by quantity over all years, largest first."))


class TotalsQuery(Schema):
    dataset = fields.String(validate=validate.OneOf(DATASETS), metadata=doc("Only this dataset; all when unset."))


class TotalSchema(Schema):
    dataset = fields.String(required=True)
    unit = fields.String(required=True)
    kind = fields.String(required=True, metadata=doc("volume or trade."))
    year = fields.Integer(required=True)
    quantity = Figure(allow_none=True, metadata=doc(
        "Sum of the category rows (volume datasets) or of the countries (trade), in unit."))
    value_usd = Figure(allow_none=True, metadata=doc("Sum over the countries, US$ (trade datasets)."))


class TotalListSchema(Schema):
    items = fields.List(fields.Nested(TotalSchema), required=True, metadata=doc("By dataset, then year."))


FILTERS = {"dataset": "dataset = %s", "year": "year = %s", "from_year": "year >= %s", "to_year": "year <= %s",
           "category": "category = %s", "item": "item = %s"}  # query argument -> its condition
CSV_COLUMNS = ("dataset", "year", "category", "item", "is_category", "quantity", "value_usd", "unit")


@bp.get("/datasets")
@operation("List Vitibrasil datasets", response=DatasetListSchema, versions=("vitibrasil",))
def list_datasets():
    """The 15 tables of the site with their label, unit, the years stored, row count and last change."""
    return {"items": fetch_all(
        "SELECT name, label, unit, kind, first_year, last_year, row_count, last_updated"
        " FROM api.vitibrasil_datasets ORDER BY opcao, subopcao NULLS FIRST")}


@bp.get("/observations")
@operation("List Vitibrasil observations", query=ObservationsQuery, response=ObservationPageSchema,
           versions=("vitibrasil",), content={"text/csv": {"schema": {"type": "string"},
                                 "example": ",".join(CSV_COLUMNS) + "\nproduction,2023,VINHO DE MESA,"
                                            "VINHO DE MESA,true,169762429,,L\n"}})
def list_observations(args):
    """Figures of one dataset matching every given filter, by year then the site's row
    order. JSON: `limit` at a time; follow `next_cursor` until it is null. CSV: a header
    line, then every matching row (empty cells: unknown figures, or no value_usd)."""
    dataset = fetch_one("SELECT row_count FROM api.vitibrasil_datasets WHERE name = %s", (args["dataset"],))
    if dataset is None:
        raise ApiError(400, "invalid query parameter(s): dataset",
                       {"dataset": ["Unknown dataset: see /api/v1/vitibrasil/datasets."]})
    given = [name for name in FILTERS if name in args]
    where, params = [FILTERS[name] for name in given], [args[name] for name in given]
    if args["format"] == "csv":
        chunks = csvstream.rows(f"SELECT {', '.join(CSV_COLUMNS)} FROM api.vitibrasil_observations"
                                f" WHERE {paging.where_sql(where)} ORDER BY year, id", params, name="vitibrasil_csv")
        return csvstream.response(CSV_COLUMNS, chunks, filename=f"vitibrasil-{args['dataset']}.csv")
    only_dataset = set(args) <= {"dataset", "format", "limit", "cursor"}  # the summary's row_count is the total
    return paging.page("api.vitibrasil_observations", where, params, columns=("year", "id"), descending=False,
                       args=args, limit=args.get("limit", DEFAULT_LIMIT),
                       exact_total=dataset["row_count"] if only_dataset else None)


@bp.get("/series")
@operation("List the series of a Vitibrasil dataset", query=SeriesQuery, response=SeriesListSchema,
           versions=("vitibrasil",))
def list_series(args):
    """Each (category, item) of the dataset with its years and its figures over all of them;
    a series' figures by year are /vitibrasil/observations with its category and item."""
    unit = fetch_one("SELECT unit FROM api.vitibrasil_datasets WHERE name = %s", (args["dataset"],))["unit"]
    return {"dataset": args["dataset"], "unit": unit, "items": fetch_all(
        "SELECT category, item, is_category, first_year, last_year, quantity, value_usd FROM api.vitibrasil_series"
        " WHERE dataset = %s ORDER BY is_category DESC, quantity DESC NULLS LAST, category, item",
        (args["dataset"],))}


@bp.get("/totals")
@operation("Vitibrasil totals per dataset and year", query=TotalsQuery, response=TotalListSchema,
           versions=("vitibrasil",))
def list_totals(args):
    """Per dataset and year: the sum of its category rows (production, processing,
    commercialization) or of its countries (imports, exports), with the unit."""
    return {"items": fetch_all(
        "SELECT dataset, unit, kind, year, quantity, value_usd FROM api.vitibrasil_totals"
        " WHERE %(d)s::text IS NULL OR dataset = %(d)s ORDER BY dataset, year", {"d": args.get("dataset")})}
