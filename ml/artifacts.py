"""Model artifacts in the skops format: loading one never runs code from the bytes.

Only the types listed in TRUSTED may be inside; an artifact holding anything
else is refused, when saved and when loaded (never ``pickle.loads`` from the database).
"""

from __future__ import annotations

import hashlib

import skops.io as sio

# Every type the models and baselines of ml/models.py are made of.
TRUSTED = [
    "functools.partial",  # ColumnTransformer's passthrough: partial(check_array); its function is checked too
    "numpy.dtype",
    "numpy.ndarray",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.AbsoluteError",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
]


class UntrustedArtifact(ValueError):
    """The artifact holds a type outside TRUSTED."""


def dumps(estimator) -> tuple[bytes, str]:
    """The artifact's bytes and their sha256; refuses what load() would refuse."""
    data = sio.dumps(estimator)
    check(data)
    return data, hashlib.sha256(data).hexdigest()


def check(data: bytes) -> None:
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED))
    if untrusted:
        raise UntrustedArtifact(f"artifact holds untrusted type(s): {', '.join(untrusted)}")


def load(data: bytes):
    check(data)
    return sio.loads(data, trusted=TRUSTED)
