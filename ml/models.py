"""The models: where their rows come from, how they are split, what they are compared with.

wine_price forecasts a trade row's price (US$/kg) from earlier years only. Its
estimators predict the ratio to the previous year's price (``scale_feature``),
fitted with absolute error weighted by that price: exactly the held-out MAE in
US$/kg. The baseline is the ratio 1, i.e. the previous year's price.

book_price predicts a book's price from what its page shows; the baseline is
the training median price of its category.
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

HELDOUT_YEARS = 3  # wine_price: the last years present are held out
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
    baseline: str                  # what the naive rule is, in words
    make_baseline: Callable[[tuple[str, ...]], object]
    baseline_features: tuple[str, ...]
    # (columns, round) -> (train, held-out) masks; round 0 holds out the evaluation rows, round 1
    # applied to the training rows holds out the validation rows a feature set is chosen on.
    split: Callable[[dict, int], tuple[np.ndarray, np.ndarray]]
    source: str                    # data_versions scope
    runs_sql: str                  # the crawl runs that last changed the rows trained on

    @property
    def unit(self) -> str:
        return "US$/kg" if self.name == "wine_price" else "GBP"


def last_years(columns: dict, _round: int = 0, count: int = HELDOUT_YEARS) -> tuple[np.ndarray, np.ndarray]:
    """Train on every year before the last ``count`` present; hold those out (features are of earlier years)."""
    year = columns["year"].astype(int)
    first_heldout = np.unique(year)[-count:][0]
    return year < first_heldout, year >= first_heldout


def by_hash(columns: dict, round: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Held out: the books whose id hashes to bucket 0 of HELDOUT_SHARE, the same on every run."""
    salt = f"/{round}" if round else ""
    bucket = np.array([int(hashlib.sha256(f"{i}{salt}".encode()).hexdigest()[:8], 16) % HELDOUT_SHARE
                       for i in columns["book_id"]])
    return bucket != 0, bucket == 0


def _previous_price(features):
    return DummyRegressor(strategy="constant", constant=1.0)


def _category_median(features):
    # A tree split on the one-hot category alone: one leaf per training
    # category, valued at its median price (absolute error).
    return Pipeline([
        ("category", ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"),
                                         [features.index("category")])])),
        ("median", DecisionTreeRegressor(criterion="absolute_error", random_state=0)),
    ])


_LAGS = ("price_1", "price_2", "price_3", "price_mean_5", "log_change_1", "log_change_2", "log_to_mean_5")
_TRADE = ("priced_years_5", "quantity_1", "value_1", "log_quantity_change_1", "dataset_price_1",
          "log_to_dataset_price_1", "dataset_log_change_1", "dataset_share_1",
          "brazil_production_1", "brazil_processing_1", "brazil_commercialization_1")

MODELS = {
    "wine_price": ModelSpec(
        name="wine_price", view="wine_price_features", where="price IS NOT NULL AND price_1 IS NOT NULL",
        target="price", scale_feature="price_1",
        params={"loss": "absolute_error", "learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15,
                "min_samples_leaf": 50, "l2_regularization": 1.0, "random_state": 0},
        candidates={
            "lags": Candidate(_LAGS),
            "lags+trade": Candidate(_LAGS + _TRADE),
            "lags+trade+dataset": Candidate(("dataset",) + _LAGS + _TRADE, categorical=("dataset",)),
        },
        baseline="the previous year's price", make_baseline=_previous_price, baseline_features=("price_1",),
        split=last_years, source="vitibrasil",
        runs_sql="SELECT array_agg(DISTINCT run_id ORDER BY run_id) FROM vitibrasil.observations"
                 " WHERE removed_at IS NULL",
    ),
    "book_price": ModelSpec(
        name="book_price", view="book_price_features", where="price IS NOT NULL",
        target="price", scale_feature=None,
        params={"loss": "absolute_error", "learning_rate": 0.05, "max_iter": 100, "min_samples_leaf": 20,
                "random_state": 0},
        candidates={
            "page": Candidate(("category", "rating", "availability", "review_count", "description_length"),
                              categorical=("category",)),
        },
        baseline="the training median price of the book's category", make_baseline=_category_median,
        baseline_features=("category",), split=by_hash, source="books",
        runs_sql="SELECT array_agg(DISTINCT last_run_id ORDER BY last_run_id) FROM books WHERE removed_at IS NULL",
    ),
}
