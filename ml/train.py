"""Train book_price: read its view, pick a feature set and a baseline on validation
rows, evaluate the model and the baseline on held-out rows, then refit what will be
served on every row (the activation rule: the model only when its held-out MAE is lower).
wine_price is a forecast with its own protocol (ml/forecast.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ
from threadpoolctl import threadpool_limits

from ml import artifacts, serving
from ml.models import ModelSpec


class TrainingError(RuntimeError):
    """The model cannot be trained; the message says why and what to do."""


@dataclass
class Trained:
    """Everything ml.model_versions records of a training but its version and status."""
    name: str
    algorithm: str
    params: dict
    baseline: str
    feature_view: str
    features: list[str]
    scale_feature: str | None
    crawl_run_ids: list[int]
    data_version: int | None
    train_size: int
    heldout_size: int
    model_mae: float
    model_mape: float
    baseline_mae: float
    baseline_mape: float
    serves: str
    artifact: bytes = field(repr=False)
    artifact_sha256: str
    estimator: object = field(repr=False)
    # wine_price (ml/forecast.py): the backtest, what each horizon serves, the figures trained on
    backtest: dict | None = field(default=None, repr=False)
    horizons: list[dict] | None = field(default=None, repr=False)
    trade: list[tuple] | None = field(default=None, repr=False)
    volumes: list[tuple] | None = field(default=None, repr=False)


def read(conn, spec: ModelSpec) -> tuple[dict[str, np.ndarray], list[int], int | None]:
    """The view's trainable rows by column, the crawl runs behind them and the data version, in one snapshot."""
    conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM ml.{} WHERE " + spec.where).format(sql.Identifier(spec.view)))
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
            cur.execute(spec.runs_sql)
            runs = cur.fetchone()[0] or []
            cur.execute("SELECT to_regclass('public.data_versions') IS NOT NULL")
            version = None
            if cur.fetchone()[0]:
                cur.execute("SELECT version FROM data_versions WHERE scope = %s", (spec.source,))
                version = (cur.fetchone() or (None,))[0]
        conn.commit()
    finally:
        conn.set_session(isolation_level="DEFAULT", readonly=False)
    columns = {name: np.array([row[i] for row in rows], dtype=object) for i, name in enumerate(names)}
    return columns, runs, version


def matrix(columns: dict, features) -> np.ndarray:
    """The estimator's input, as the API builds it (ml/serving.py)."""
    return serving.matrix([dict(zip(columns, values)) for values in zip(*columns.values())], features)


def predict(estimator, columns: dict, features, scale_feature: str | None) -> np.ndarray:
    output = estimator.predict(matrix(columns, features))
    return output * matrix(columns, [scale_feature])[:, 0].astype(float) if scale_feature else output


def _fit(estimator, spec: ModelSpec, columns: dict, features):
    target = columns[spec.target].astype(float)
    if spec.scale_feature:  # a ratio, weighted so that the loss is the absolute error of the price
        scale = columns[spec.scale_feature].astype(float)
        weight = f"{estimator.steps[-1][0]}__sample_weight" if hasattr(estimator, "steps") else "sample_weight"
        return estimator.fit(matrix(columns, features), target / scale, **{weight: scale})
    return estimator.fit(matrix(columns, features), target)


def _errors(spec: ModelSpec, columns: dict, prediction: np.ndarray) -> tuple[float, float]:
    actual = columns[spec.target].astype(float)
    error = np.abs(prediction - actual)
    return float(error.mean()), float(100 * (error / actual).mean())


def _subset(columns: dict, mask: np.ndarray) -> dict:
    return {name: values[mask] for name, values in columns.items()}


def _usable(columns: dict, features) -> bool:
    """Every feature has a value in some row (a column of NULLs only, e.g. Brazil's production when
    the volume datasets were not crawled, cannot be binned)."""
    return all(any(v is not None for v in columns[f]) for f in features)


def _choose(spec: ModelSpec, train: dict) -> tuple[str, dict]:
    """The feature set with the lowest MAE on validation rows carved out of the training rows."""
    names = [name for name, c in spec.candidates.items() if _usable(train, c.features)]
    fit_mask, validation_mask = spec.split(train, 1)
    fit_rows, validation = _subset(train, fit_mask), _subset(train, validation_mask)
    names = [name for name in names if _usable(fit_rows, spec.candidates[name].features)] or names[:1]
    if len(names) == 1 or not fit_mask.any() or not validation_mask.any():
        return names[0], {}
    scores = {}
    for name in names:
        candidate = spec.candidates[name]
        estimator = _fit(candidate.make(spec.params), spec, fit_rows, candidate.features)
        scores[name] = round(_errors(spec, validation, predict(estimator, validation, candidate.features,
                                                                  spec.scale_feature))[0], 6)
    return min(scores, key=scores.get), scores


def _choose_baseline(spec: ModelSpec, train: dict) -> str:
    """The naive rule with the lowest MAE on the validation rows carved out of the training rows."""
    fit_mask, validation_mask = spec.split(train, 1)
    if len(spec.baselines) == 1 or not fit_mask.any() or not validation_mask.any():
        return next(iter(spec.baselines))
    fit_rows, validation = _subset(train, fit_mask), _subset(train, validation_mask)
    scores = {}
    for name, rule in spec.baselines.items():
        estimator = _fit(rule.make(rule.features), spec, fit_rows, rule.features)
        scores[name] = _errors(spec, validation, predict(estimator, validation, rule.features, spec.scale_feature))[0]
    return min(scores, key=scores.get)


def train(conn, spec: ModelSpec) -> Trained:
    columns, runs, data_version = read(conn, spec)
    count = len(columns[spec.target]) if columns else 0
    if not count:
        raise TrainingError(f"{spec.name}: no training data in ml.{spec.view}: run `scrapy crawl {spec.source}` first")
    train_mask, heldout_mask = spec.split(columns, 0)
    if not train_mask.any() or not heldout_mask.any():
        raise TrainingError(f"{spec.name}: {count} row(s) in ml.{spec.view} are too few to hold some out")
    train_rows, heldout = _subset(columns, train_mask), _subset(columns, heldout_mask)

    with threadpool_limits(limits=1):  # OpenMP threads only fight each other on a shared machine
        chosen, validation = _choose(spec, train_rows)
        candidate = spec.candidates[chosen]
        model = _fit(candidate.make(spec.params), spec, train_rows, candidate.features)
        model_mae, model_mape = _errors(spec, heldout, predict(model, heldout, candidate.features,
                                                                 spec.scale_feature))
        rule = spec.baselines[_choose_baseline(spec, train_rows)]
        baseline = _fit(rule.make(rule.features), spec, train_rows, rule.features)
        baseline_mae, baseline_mape = _errors(spec, heldout, predict(baseline, heldout, rule.features,
                                                                      spec.scale_feature))
        if not all(map(math.isfinite, (model_mae, model_mape, baseline_mae, baseline_mape))):
            raise TrainingError(f"{spec.name}: held-out metrics are not finite")
        # Served: refit on every row, held-out ones included.
        serves = "model" if model_mae < baseline_mae else "baseline"
        features = candidate.features if serves == "model" else rule.features
        estimator = candidate.make(spec.params) if serves == "model" else rule.make(rule.features)
        estimator = _fit(estimator, spec, columns, features)
    data, sha256 = artifacts.dumps(estimator)
    return Trained(
        name=spec.name, algorithm=type(model[-1] if hasattr(model, "steps") else model).__name__,
        params={"feature_set": chosen, "estimator": spec.params, "validation_mae": validation,
                "target": f"{spec.target} / {spec.scale_feature}" if spec.scale_feature else spec.target},
        baseline=rule.description, feature_view=f"ml.{spec.view}", features=list(features),
        scale_feature=spec.scale_feature, crawl_run_ids=list(runs), data_version=data_version,
        train_size=int(train_mask.sum()), heldout_size=int(heldout_mask.sum()),
        model_mae=model_mae, model_mape=model_mape, baseline_mae=baseline_mae, baseline_mape=baseline_mape,
        serves=serves, artifact=data, artifact_sha256=sha256, estimator=estimator)
