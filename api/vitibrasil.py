"""``/api/v1/vitibrasil``: Embrapa's grape, wine and derivatives statistics (datasets, then their figures).
Observations come by (year, id): a year's rows in the site's order (a category row, then its items)."""

from __future__ import annotations

from flask import Blueprint

from api import csvstream, paging
from api.db import fetch_all, fetch_one
from api.errors import ApiError
from api.operation import operation
from api.schemas.vitibrasil import (DEFAULT_LIMIT, DatasetListSchema, ObservationPageSchema, ObservationsQuery,
                                    SeriesListSchema, SeriesQuery, TotalListSchema, TotalsQuery)

bp = Blueprint("vitibrasil", __name__, url_prefix="/api/v1/vitibrasil")

KEY = ("year", "id")
CSV_COLUMNS = ("dataset", "year", "category", "item", "is_category", "quantity", "value_usd", "unit")


@bp.get("/datasets")
@operation("List Vitibrasil datasets", response=DatasetListSchema, versions=("vitibrasil",))
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
    where, params = _filters(args)
    if args["format"] == "csv":
        chunks = csvstream.rows(f"SELECT {', '.join(CSV_COLUMNS)} FROM api.vitibrasil_observations"
                                f" WHERE {paging.where_sql(where)} ORDER BY year, id", params, name="vitibrasil_csv")
        return csvstream.response(CSV_COLUMNS, chunks, filename=f"vitibrasil-{args['dataset']}.csv")
    only_dataset = set(args) <= {"dataset", "format", "limit", "cursor"}  # the summary's row_count is the total
    return paging.page("api.vitibrasil_observations", where, params, columns=KEY, descending=False, args=args,
                       limit=args.get("limit", DEFAULT_LIMIT),
                       exact_total=(lambda: dataset["row_count"]) if only_dataset else None)


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
