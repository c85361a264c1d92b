"""Model artifacts in the skops format: loading one never runs code from the bytes.

Only the types listed in TRUSTED may be inside; an artifact holding anything
else is refused, when saved and when loaded (never ``pickle.loads`` from the
database). The trainer and the API both use this module: one list, one loader.
skops (and with it scikit-learn) is imported on first use, so the API's
workers that never predict stay light.
"""

from __future__ import annotations

import hashlib

# Every type the models and baselines of ml/models.py and ml/forecast.py are made of.
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
    """The artifact holds a type outside TRUSTED, or not the bytes registered."""


def dumps(estimator) -> tuple[bytes, str]:
    """The artifact's bytes and their sha256; refuses what load() would refuse."""
    import skops.io as sio

    data = sio.dumps(estimator)
    check(data)
    return data, hashlib.sha256(data).hexdigest()


def check(data: bytes) -> None:
    import skops.io as sio

    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED))
    if untrusted:
        raise UntrustedArtifact(f"artifact holds untrusted type(s): {', '.join(untrusted)}")


def load(data: bytes, sha256: str | None = None):
    """The estimator in an artifact; refuses untrusted types and, given ``sha256``, altered bytes."""
    import skops.io as sio

    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise UntrustedArtifact("artifact bytes do not match their registered sha256")
    check(data)
    return sio.loads(data, trusted=TRUSTED)
