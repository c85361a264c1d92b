"""Vitibrasil datasets and observations."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.schemas.common import CURSOR_PATTERN, Figure, check_order, doc, page_schema

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
        if data["format"] == "csv":
            paging = {name: ["Paging is for format=json; format=csv returns every matching row."]
                      for name in ("limit", "cursor") if name in data}
            if paging:
                raise ValidationError(paging)


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
    category = fields.String(allow_none=True, metadata=doc('Upper-level group, e.g. "VINHO DE MESA"; null in trade datasets.'))
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
