"""Helpers of the model tests."""

from __future__ import annotations

import migrations
from ml import registry
from ml.__main__ import train_model
from ml.forecast import Protocol

# wine_price's backtest made small for tests: the protocol is the same, the sizes are not.
SMALL = Protocol(origins=2, inner_origins=2, bootstrap=200, feature_sets=("lags", "lags+trade"),
                 settings=("shallow",), max_iter=15)


def train_models(db_url: str, *names: str) -> list:
    """Train and register ``names`` in-process as ``python -m ml train`` does (wine_price with SMALL)."""
    conn = migrations.connect(db_url)
    try:
        trained = [train_model(conn, name, SMALL) for name in names]
        for t in trained:
            registry.register(conn, t)
        return trained
    finally:
        conn.close()
