"""The active version of each price model, loaded once per process.

Versions are written by ``python -m ml train`` (ml.model_versions); the API
only reads them. Every prediction reads the active version's id and sha256
(one row, by a partial unique index) and loads the artifact again only when
another version became active. Artifacts are skops files, loaded only when
every type inside is in TRUSTED_TYPES and the bytes match their sha256: a
stored artifact cannot make this process run code.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from flask import current_app

from api.db import fetch_one

# The only types an artifact may hold (the models and baselines ml/models.py builds).
TRUSTED_TYPES = [
    "functools.partial", "numpy.dtype", "numpy.ndarray",
    "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval", "sklearn._loss.loss.AbsoluteError",
    "sklearn.compose._column_transformer.ColumnTransformer", "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._encoders.OneHotEncoder", "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.tree._classes.DecisionTreeRegressor", "sklearn.tree._tree.Tree", "sklearn.utils.validation.check_array",
]
VERSION_COLUMNS = ("id, name, version, status, trained_at, algorithm, params, baseline, features, scale_feature,"
                   " feature_view, crawl_run_ids, data_version, train_size, heldout_size, model_mae, model_mape,"
                   " baseline_mae, baseline_mape, serves, artifact_sha256")
_CACHE = "api.ml_models"
_cache_lock = threading.Lock()


class UntrustedArtifact(ValueError):
    """A stored artifact holds a type outside TRUSTED_TYPES, or not the bytes registered."""


def load_artifact(data: bytes, sha256: str):
    """The estimator in a registered artifact; refuses altered bytes and untrusted types."""
    import skops.io as sio  # here, not at import: scikit-learn weighs ~115 MiB a web worker that never predicts spares

    if hashlib.sha256(data).hexdigest() != sha256:
        raise UntrustedArtifact("artifact bytes do not match their registered sha256")
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if untrusted:
        raise UntrustedArtifact(f"artifact holds untrusted type(s): {', '.join(untrusted)}")
    return sio.loads(data, trusted=TRUSTED_TYPES)


@dataclass(frozen=True)
class Active:
    row: dict  # its ml.model_versions row, without the artifact
    estimator: object

    def predict(self, rows: list[dict]) -> list[float]:
        """As ml/train.py's predict(): strings kept, numbers as floats, NULL as NaN, times the scale feature."""
        import numpy as np  # loaded with the first model (see load_artifact)
        from threadpoolctl import threadpool_limits

        features, scale = self.row["features"], self.row["scale_feature"]
        matrix = np.array([[v if isinstance(v, str) else np.nan if v is None else float(v)
                            for v in (r[f] for f in features)] for r in rows], dtype=object)
        with threadpool_limits(limits=1):  # OpenMP threads per request would fight the other workers
            output = self.estimator.predict(matrix)
        if scale:
            output = output * np.array([float(r[scale]) for r in rows])
        return [float(v) for v in output]


def active_model(name: str) -> Active | None:
    """The active version of ``name``; None before its first training."""
    row = fetch_one(f"SELECT {VERSION_COLUMNS} FROM ml.model_versions WHERE name = %s AND status = 'active'",
                    (name,))
    if row is None:
        return None
    cache = current_app.extensions.setdefault(_CACHE, {})
    with _cache_lock:
        loaded = cache.get(name)
        if loaded is None or loaded.row["artifact_sha256"] != row["artifact_sha256"]:
            data = fetch_one("SELECT artifact FROM ml.model_versions WHERE id = %s", (row["id"],))["artifact"]
            loaded = cache[name] = Active(row, load_artifact(bytes(data), row["artifact_sha256"]))
        elif loaded.row["id"] != row["id"]:
            loaded = cache[name] = Active(row, loaded.estimator)  # same bytes, another version
    return loaded
