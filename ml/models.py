"""The models trained by ml/train.py: where their rows come from, how they are split,
what they are compared with. (wine_price is a forecast with its own protocol: ml/forecast.py.)

book_price predicts a book's price from what its page shows; its baseline is the
better, on validation rows, of the overall and the category median price.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.tree import DecisionTreeRegressor

HELDOUT_SHARE = 5  # book_price: one book in 5, by a stable hash of its id


@dataclass(frozen=True)
class Candidate:
    """A feature set and an estimator over it; the trainer picks one per training on validation rows."""
    features: tuple[str, ...]
    categorical: tuple[str, ...] = ()

    def make(self, params: dict):
        booster = HistGradientBoostingRegressor(**params)
        if not self.categorical:
            return booster
        positions = [self.features.index(name) for name in self.categorical]
        encode = ColumnTransformer(
            [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                           encoded_missing_value=np.nan), positions)],
            remainder="passthrough")
        # The encoded columns come first out of the ColumnTransformer.
        booster.set_params(categorical_features=list(range(len(positions))))
        return Pipeline([("encode", encode), ("boost", booster)])


@dataclass(frozen=True)
class ModelSpec:
    name: str
    view: str                      # ml.<view>
    where: str                     # the rows that can be trained on
    target: str
    scale_feature: str | None      # predictions are the estimator's output times this column
    params: dict                   # of the HistGradientBoostingRegressor
    candidates: dict[str, Candidate]
    baselines: dict[str, "Baseline"]  # the naive rules; the trainer keeps the better on validation rows
    # (columns, round) -> (train, held-out) masks; round 0 holds out the evaluation rows, round 1
    # applied to the training rows holds out the validation rows a feature set is chosen on.
    split: Callable[[dict, int], tuple[np.ndarray, np.ndarray]]
    source: str                    # data_versions scope
    runs_sql: str                  # the crawl runs that last changed the rows trained on


@dataclass(frozen=True)
class Baseline:
    description: str               # what the naive rule is, in words
    make: Callable[[tuple[str, ...]], object]
    features: tuple[str, ...]


def by_hash(columns: dict, round: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Held out: the books whose id hashes to bucket 0 of HELDOUT_SHARE, the same on every run."""
    salt = f"/{round}" if round else ""
    bucket = np.array([int(hashlib.sha256(f"{i}{salt}".encode()).hexdigest()[:8], 16) % HELDOUT_SHARE
                       for i in columns["book_id"]])
    return bucket != 0, bucket == 0


def _overall_median(features):
    return DummyRegressor(strategy="median")


def _category_median(features):
    # A tree split on the one-hot category alone: one leaf per training
    # category, valued at its median price (absolute error).
    return Pipeline([
        ("category", ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"),
                                         [features.index("category")])])),
        ("median", DecisionTreeRegressor(criterion="absolute_error", random_state=0)),
    ])


# The training specifications of the models ml/train.py trains (the served list is ml/catalog.py).
SPECS = {
    "book_price": ModelSpec(
        name="book_price", view="book_price_features", where="price IS NOT NULL",
        target="price", scale_feature=None,
        params={"loss": "absolute_error", "learning_rate": 0.05, "max_iter": 100, "min_samples_leaf": 20,
                "random_state": 0},
        candidates={
            "page": Candidate(("category", "rating", "availability", "review_count", "description_length"),
                              categorical=("category",)),
        },
        baselines={"category_median": Baseline("the training median price of the book's category",
                                               _category_median, ("category",)),
                   "overall_median": Baseline("the training median price of all books", _overall_median,
                                              ("category",))},
        split=by_hash, source="books",
        runs_sql="SELECT array_agg(DISTINCT last_run_id ORDER BY last_run_id) FROM books WHERE removed_at IS NULL",
    ),
}
