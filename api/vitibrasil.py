"""``/api/v1/vitibrasil``: Embrapa's grape, wine and derivatives statistics (datasets, then their figures).

Observations come by (year, id): a year's rows in the order the site lists
them (a category row, then its items). JSON pages follow a keyset cursor as
books do; ``format=csv`` is one streamed file of every matching row.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, stream_with_context
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api import cursor
from api.db import fetch_all, fetch_one, get_db
from api.errors import ApiError
from api.operation import operation

bp = Blueprint("vitibrasil", __name__, url_prefix="/api/v1/vitibrasil")

KEY = ("year", "id")
CSV_COLUMNS = ("dataset", "year", "category", "item", "is_category", "quantity", "value_usd", "unit")
DEFAULT_LIMIT = 100
CHUNK_ROWS = 1000
_years = validate.Range(1970, 2100)


def _doc(text: str) -> dict:
    return {"description": text}


class Figure(fields.Decimal):
    """A figure as a JSON number at the precision stored (169762429, 35881118.23); null when unknown."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)


class ObservationsQuery(Schema):
    dataset = fields.String(required=True, validate=validate.Length(1, 100),
                            metadata=_doc("Dataset name, e.g. production (see /api/v1/vitibrasil/datasets)."))
    year = fields.Integer(validate=_years, metadata=_doc("Only this year."))
    from_year = fields.Integer(validate=_years, metadata=_doc("First year (inclusive)."))
    to_year = fields.Integer(validate=_years, metadata=_doc("Last year (inclusive)."))
    category = fields.String(validate=validate.Length(1, 200),
                             metadata=_doc('Exact category, e.g. "VINHO DE MESA" (volume datasets only).'))
    item = fields.String(validate=validate.Length(1, 200),
                         metadata=_doc('Exact item: product, cultivar or country, e.g. "Tinto" or "Chile".'))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata=_doc("json (a page of items) or csv (every matching row, one file)."))
    limit = fields.Integer(validate=validate.Range(1, 1000),
                           metadata={**_doc("Page size (format=json only)."), "default": DEFAULT_LIMIT})
    cursor = fields.String(validate=validate.Length(1, 500),
                           metadata=_doc("next_cursor of the previous page, with the same filters (format=json only)."))

    @validates_schema
    def _coherent(self, data, **kwargs):
        low, high = data.get("from_year"), data.get("to_year")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be less than from_year.", "to_year")
        if data["format"] == "csv":
            paging = {name: ["Paging is for format=json; format=csv returns every matching row."]
                      for name in ("limit", "cursor") if name in data}
            if paging:
                raise ValidationError(paging)


class DatasetSchema(Schema):
    name = fields.String(required=True, metadata=_doc("The dataset's name in this API."))
    label = fields.String(required=True, metadata=_doc("Its heading on the site, in Portuguese."))
    unit = fields.String(required=True, metadata=_doc("Unit of quantity: L (litres) or kg."))
    kind = fields.String(required=True, metadata=_doc("volume (quantity only) or trade (quantity and value_usd)."))
    first_year = fields.Integer(allow_none=True, metadata=_doc("First year stored; null before the first crawl."))
    last_year = fields.Integer(allow_none=True)
    row_count = fields.Integer(required=True, metadata=_doc("Observations stored."))
    last_updated = fields.DateTime(allow_none=True, metadata=_doc("When a crawl last changed one of its figures."))


class DatasetListSchema(Schema):
    items = fields.List(fields.Nested(DatasetSchema), required=True, metadata=_doc("In the site's order."))


class ObservationSchema(Schema):
    dataset = fields.String(required=True)
    year = fields.Integer(required=True)
    category = fields.String(allow_none=True, metadata=_doc('Upper-level group, e.g. "VINHO DE MESA"; null in trade datasets.'))
    item = fields.String(required=True, metadata=_doc("Product, cultivar or country."))
    is_category = fields.Boolean(required=True, metadata=_doc("The category's own row, holding its total."))
    quantity = Figure(allow_none=True, metadata=_doc("In unit; null when the source marks it unknown (nd, *, +)."))
    value_usd = Figure(allow_none=True, metadata=_doc("US$, trade datasets only; null otherwise or when unknown."))
    unit = fields.String(required=True)
    first_seen_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True, metadata=_doc("When a crawl last changed the figures."))
    run_id = fields.Integer(required=True, metadata=_doc("The crawl run that last changed it."))


class ObservationPageSchema(Schema):
    items = fields.List(fields.Nested(ObservationSchema), required=True)
    next_cursor = fields.String(allow_none=True, metadata=_doc("Pass as cursor for the next page; null on the last."))
    total = fields.Integer(required=True, metadata=_doc("Observations matching the filters, over all pages."))


@bp.get("/datasets")
@operation("List Vitibrasil datasets", response=DatasetListSchema)
def list_datasets():
    """The 15 tables of the site with their label, unit, the years stored, row count and last change."""
    return {"items": fetch_all(
        "SELECT name, label, unit, kind, first_year, last_year, row_count, last_updated"
        " FROM api.vitibrasil_datasets ORDER BY opcao, subopcao NULLS FIRST")}


def _filters(args: dict) -> tuple[list[str], list]:
    where, params = [], []
    for name, condition in (("dataset", "dataset = %s"), ("year", "year = %s"), ("from_year", "year >= %s"),
                            ("to_year", "year <= %s"), ("category", "category = %s"), ("item", "item = %s")):
        if name in args:
            where.append(condition)
            params.append(args[name])
    return where, params


@bp.get("/observations")
@operation("List Vitibrasil observations", query=ObservationsQuery, response=ObservationPageSchema,
           content={"text/csv": {"schema": {"type": "string"},
                                 "example": ",".join(CSV_COLUMNS) + "\nproduction,2023,VINHO DE MESA,"
                                            "VINHO DE MESA,true,169762429,,L\n"}})
def list_observations(args):
    """Figures of one dataset matching every given filter, by year then the site's row
    order. JSON: `limit` at a time; follow `next_cursor` until it is null. CSV: a header
    line, then every matching row (empty cells: unknown figures, or no value_usd)."""
    if fetch_one("SELECT 1 AS known FROM api.vitibrasil_datasets WHERE name = %s", (args["dataset"],)) is None:
        raise ApiError(400, "invalid query parameter(s): dataset",
                       {"dataset": ["Unknown dataset: see /api/v1/vitibrasil/datasets."]})
    where, params = _filters(args)
    if args["format"] == "csv":
        return Response(stream_with_context(_csv(" AND ".join(where), params)), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="vitibrasil-{args["dataset"]}.csv"'})
    limit = args.get("limit", DEFAULT_LIMIT)
    listing = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    page_where, page_params = list(where), list(params)
    if "cursor" in args:
        page_where.append("(year, id) > (%s, %s)")
        page_params += cursor.decode(args["cursor"], KEY, listing)
    rows = fetch_all(f"SELECT * FROM api.vitibrasil_observations WHERE {' AND '.join(page_where)}"
                     " ORDER BY year, id LIMIT %s", (*page_params, limit + 1))
    total = fetch_one(f"SELECT count(*) AS n FROM api.vitibrasil_observations WHERE {' AND '.join(where)}",
                      params)["n"]
    items = rows[:limit]
    more = len(rows) > limit
    return {"items": items, "total": total,
            "next_cursor": cursor.encode([items[-1][c] for c in KEY], listing) if more else None}


def _csv(where: str, params: list):
    """Rows in chunks from a server-side cursor: memory stays flat whatever the size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    with get_db().cursor(name="vitibrasil_csv") as cur:
        cur.execute(f"SELECT {', '.join(CSV_COLUMNS)} FROM api.vitibrasil_observations WHERE {where}"
                    " ORDER BY year, id", params)
        while chunk := cur.fetchmany(CHUNK_ROWS):
            writer.writerows([str(v).lower() if isinstance(v, bool) else v for v in row] for row in chunk)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()  # the header alone when nothing matches
