"""``/api/v1/ml``: the feature list, one model-ready row per listed book (streamed, stamped with the last crawl
run that changed the books, so a training set can be traced to its crawl), and the price models with their
predictions. ml/ trains and serves them (ml/serving.py); this module maps HTTP onto it."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, request, stream_with_context

from api import csvstream
from api.db import fetch_all, fetch_one, get_db
from api.errors import ApiError
from api.operation import operation
from api.schemas.ml import (FEATURES, FeatureListSchema, ModelListSchema, PredictionListSchema,
                            PredictionRequestSchema, TrainingDataQuery, TrainingDataSchema, TrainingRowSchema)
from ml import serving
from ml.artifacts import UntrustedArtifact
from ml.catalog import MODELS, instance_errors

bp = Blueprint("ml", __name__, url_prefix="/api/v1/ml")
logger = logging.getLogger(__name__)

COLUMNS = [f.name for f in FEATURES]
_row_schema = TrainingRowSchema()


def _crawl_run_id() -> int | None:
    return fetch_one("SELECT max(last_run_id) AS id FROM api.books")["id"]


@bp.get("/features")
@operation("Features of the training data", response=FeatureListSchema)
def features():
    """Each column of /ml/training-data with its type and meaning."""
    return {"features": [f._asdict() for f in FEATURES], "crawl_run_id": _crawl_run_id()}


def _rows():
    return csvstream.rows(f"SELECT {', '.join(COLUMNS)} FROM api.training_data ORDER BY book_id",
                          name="training_data", chunk=500)


def _json(run_id):
    yield f'{{"crawl_run_id": {json.dumps(run_id)}, "features": {json.dumps(COLUMNS)}, "rows": ['
    for i, chunk in enumerate(_rows()):
        yield ("," if i else "") + ",".join(json.dumps(_row_schema.dump(dict(zip(COLUMNS, row)))) for row in chunk)
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


# --- Price models -----------------------------------------------------------------------------------------------

# 1000 instances need more room than the app's body limit (API_MAX_BODY_BYTES, sized for logins).
PREDICTIONS_MAX_BYTES = 512 * 1024


def _version(row: dict, horizons: list[dict]) -> dict:
    """A version's row as ModelVersionSchema nests it (the schema dumps the fields it declares, nothing else)."""
    return {**row, "training_data": row, "horizons": horizons or None,
            "metrics": {"model": {"mae": row["model_mae"], "mape": row["model_mape"]},
                        "baseline": {"mae": row["baseline_mae"], "mape": row["baseline_mape"]}}}


@bp.get("/models")
@operation("List price models", response=ModelListSchema)
def list_models():
    """Every model with its versions (newest first) and the data each was trained on. book_price:
    held-out metrics of the model and of its naive baseline; it serves the model only when its MAE
    is lower. wine_price: the rolling-origin backtest per horizon (model and each naive rule, for all
    trade rows, wine and the other products) and what each horizon serves: the model only where the
    upper end of the bootstrap interval of its MAE ratio to the strongest naive rule is below 1."""
    rows = fetch_all(f"SELECT {serving.VERSION_COLUMNS} FROM ml.model_versions ORDER BY name, version DESC")
    horizons = fetch_all("SELECT version_id, scenario, horizon, serves, strongest_naive, ratio, ratio_low,"
                         " ratio_high FROM ml.version_horizons ORDER BY version_id, scenario, horizon")
    models = []
    for name, model in MODELS.items():
        versions = [_version(r, [h for h in horizons if h["version_id"] == r["id"]]) for r in rows if r["name"] == name]
        active = next((v["version"] for v in versions if v["status"] == "active"), None)
        models.append({"name": name, "description": model.description, "active_version": active, "versions": versions})
    return {"models": models}


@bp.before_request
def _room_for_instances():
    if request.endpoint == "ml.predict":
        request.max_content_length = max(current_app.config.get("MAX_CONTENT_LENGTH") or 0, PREDICTIONS_MAX_BYTES)


def _active(name: str) -> serving.Active:
    store = current_app.extensions.setdefault("ml.serving", serving.Store())
    try:
        active = store.active(get_db(), name)
    except UntrustedArtifact as exc:
        logger.error("model %s: artifact refused: %s", name, exc)
        raise ApiError(503, f"model {name}: the active version's artifact is refused ({exc}):"
                            f" run `python -m ml train {name}`", code="model_refused") from exc
    if active is None:
        raise ApiError(503, f"model {name} has no trained version yet: run `python -m ml train {name}`",
                       code="model_not_trained")
    return active


@bp.post("/predictions")
@operation("Predict prices", body=PredictionRequestSchema, response=PredictionListSchema, errors=(404, 413, 422, 503))
def predict(body):
    """Predictions of the active version of a model for up to 1000 instances (a body up to 512 KiB:
    413 beyond).

    wine_price: a year with an observed price answers with it (`kind: observed`); a year 1 to 3
    past the data gets a forecast (`kind: forecast`) with conformal intervals at each of `levels`
    (default [0.8]), from the model or, where the model did not beat it in the backtest, the
    strongest naive rule (`served_by`). Adding any of the target year's drivers (`quantity_kg`,
    `production`, `processing`, `commercialization`) asks for a scenario (`kind: scenario`, `inputs`:
    the drivers used) when the scenario model is served for that horizon, else a plain forecast.

    404: unknown model; 400: invalid instances (per instance and field, drivers included: negative,
    not a number, or more than 100 times the largest figure observed); 422: an instance without the
    history it needs (wine_price: no observed price for a past year, no price in the last year of
    data to forecast from, or more than 3 years ahead; book_price: a listed book or a known category);
    503: no trained version yet (run `python -m ml train`)."""
    name = body["model"]
    if name not in MODELS:
        raise ApiError(404, f"unknown model {name!r}: known models are {', '.join(MODELS)}",
                       {"model": [f"Unknown model: one of {', '.join(MODELS)}."]})
    instances = body["instances"]
    if errors := instance_errors(name, instances):
        raise ApiError(400, f"invalid request body: {', '.join(errors)}", errors)
    if name != "wine_price" and "levels" in body:
        raise ApiError(400, "invalid request body: levels", {"levels": ["Only wine_price forecasts have intervals."]})
    active, conn = _active(name), get_db()
    try:
        if name == "wine_price":
            predictions = serving.predict_wine(conn, active, instances, body.get("levels") or [0.8])
        else:
            values = active.predict_books(serving.book_rows(conn, instances))
            predictions = [{"prediction": v, "instance": i} for v, i in zip(values, instances)]
    except serving.BadInput as exc:
        raise ApiError(400, f"invalid request body: {exc}", exc.errors) from exc
    except serving.HistoryMissing as exc:
        raise ApiError(422, str(exc), exc.errors) from exc
    row, wine = active.row, name == "wine_price"
    return {"model": name, "version": row["version"], "serves": row["params"]["serves"] if wine else row["serves"],
            "algorithm": row["algorithm"] if wine or row["serves"] == "model" else f"baseline: {row['baseline']}",
            "predictions": predictions}
