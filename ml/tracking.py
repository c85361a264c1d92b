"""MLflow tracking of each training, when ``MLFLOW_TRACKING_URI`` is set.

The PostgreSQL registry (ml.model_versions) stays what the API serves; MLflow is
a copy for people who browse experiments: one run per registered version, with
its parameters, its metrics (the backtest per horizon for wine_price) and the
skops artifact. mlflow-skinny is imported only here, only when configured.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

def _flat(prefix: str, value, out: dict, sep: str = ".") -> dict:
    if isinstance(value, dict):
        for key, item in value.items():
            _flat(f"{prefix}{sep}{key}" if prefix else str(key), item, out, sep)
    else:
        out[prefix] = value
    return out


def metrics(trained) -> dict[str, float]:
    """MLflow metric names (letters, digits, _ - . / only) and values."""
    if not trained.backtest:
        return {"model_mae": trained.model_mae, "model_mape": trained.model_mape,
                "baseline_mae": trained.baseline_mae, "baseline_mape": trained.baseline_mape}
    out = {}
    for kind, tables in trained.backtest.items():
        for table in tables:
            for family, figures in table["families"].items():
                flat = _flat("", {k: v for k, v in figures.items() if k != "strongest_naive"}, {}, "/")
                for key, value in flat.items():  # e.g. forecast/h1/all/model/coverage/0.8
                    out[f"{kind}/h{table['horizon']}/{family}/{key}"] = float(value)
    return out


def params(trained) -> dict[str, str]:
    flat = _flat("", {k: v for k, v in trained.params.items() if k != "horizons"}, {})
    if trained.backtest:
        for kind, tables in trained.backtest.items():
            for table in tables:
                flat[f"{kind}/h{table['horizon']}/serves"] = table["serves"]
        for key, config in trained.params.get("horizons", {}).items():
            flat[f"{key}/config"] = f"{config['feature_set']}/{config['settings']}"
    return {key: str(value)[:500] for key, value in flat.items()}


def log(trained, version: int) -> str | None:
    """The MLflow run id of this training; None when MLFLOW_TRACKING_URI is unset."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # the command's output stays one line per model
    mlflow.set_experiment(trained.name)
    with mlflow.start_run(run_name=f"{trained.name} v{version}") as run:
        mlflow.set_tags({"model": trained.name, "version": str(version), "serves": trained.serves,
                         "data_version": str(trained.data_version), "artifact_sha256": trained.artifact_sha256})
        mlflow.log_params(params(trained))
        mlflow.log_metrics(metrics(trained))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{trained.name}-v{version}.skops"
            path.write_bytes(trained.artifact)
            mlflow.log_artifact(str(path))
        return run.info.run_id
