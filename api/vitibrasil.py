"""``/api/v1/vitibrasil``: Embrapa's grape, wine and derivatives statistics (datasets, then their figures).

Observations come by (year, id): a year's rows in the order the site lists
them (a category row, then its items). JSON pages follow a keyset cursor as
books do; ``format=csv`` is one streamed file of every matching row.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, stream_with_context

from api import cursor
from api.db import fetch_all, fetch_one, get_db
from api.errors import ApiError
from api.operation import operation
from api.schemas.vitibrasil import DEFAULT_LIMIT, DatasetListSchema, ObservationPageSchema, ObservationsQuery

bp = Blueprint("vitibrasil", __name__, url_prefix="/api/v1/vitibrasil")

KEY = ("year", "id")
CSV_COLUMNS = ("dataset", "year", "category", "item", "is_category", "quantity", "value_usd", "unit")
CHUNK_ROWS = 1000


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
