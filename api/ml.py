"""``/api/v1/ml``: the feature list, and one model-ready row per listed book.

Training data is streamed from a server-side cursor and stamped with the last
crawl run that changed the books (body and X-Crawl-Run-Id): the rows are the
state that run left, so a training set can be traced to its crawl.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from flask import Blueprint, Response, stream_with_context

from api import csvstream
from api.db import fetch_one
from api.operation import operation
from api.schemas.ml import FEATURES, FeatureListSchema, TrainingDataQuery, TrainingDataSchema, TrainingRowSchema

bp = Blueprint("ml", __name__, url_prefix="/api/v1/ml")

COLUMNS = [f.name for f in FEATURES]
CHUNK_ROWS = 500
_row_schema = TrainingRowSchema()


def _crawl_run_id() -> int | None:
    return fetch_one("SELECT max(last_run_id) AS id FROM api.books")["id"]


@bp.get("/features")
@operation("Features of the training data", response=FeatureListSchema)
def features():
    """Each column of /ml/training-data with its type and meaning."""
    return {"features": [asdict(f) for f in FEATURES], "crawl_run_id": _crawl_run_id()}


def _rows():
    return csvstream.rows(f"SELECT {', '.join(COLUMNS)} FROM api.training_data ORDER BY book_id",
                          name="training_data", chunk=CHUNK_ROWS)


def _json(run_id):
    yield f'{{"crawl_run_id": {json.dumps(run_id)}, "features": {json.dumps(COLUMNS)}, "rows": ['
    separator = ""
    for chunk in _rows():
        yield separator + ",".join(json.dumps(_row_schema.dump(dict(zip(COLUMNS, row)))) for row in chunk)
        separator = ","
    yield "]}\n"


@bp.get("/training-data")
@operation("Training data", query=TrainingDataQuery, response=TrainingDataSchema,
           content={"text/csv": {"schema": {"type": "string"},
                                 "example": ",".join(COLUMNS) + "\n1000,Poetry,51.77,51.77,0.0,22,true,3,0,1000,20\n"}})
def training_data(args):
    """One row per listed book, by book_id: ``format=json`` (an object with rows)
    or ``format=csv`` (a header line, then rows). Streamed."""
    run_id = _crawl_run_id()
    headers = {"X-Crawl-Run-Id": "" if run_id is None else str(run_id)}
    if args["format"] == "csv":
        return csvstream.response(COLUMNS, _rows(), filename=f"training-data-run-{run_id}.csv", headers=headers)
    return Response(stream_with_context(_json(run_id)), mimetype="application/json", headers=headers)
