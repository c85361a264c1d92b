"""Helpers of the model tests."""

from __future__ import annotations

import numpy as np

import migrations
from ml import registry, wine
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


YEARS = range(1990, 2016)


def synthetic(price, series: int = 200, seed: int = 1) -> tuple[list[tuple], list[tuple]]:
    """Trade rows (dataset, country, year, quantity, value) with ``price(rng, n_years)`` per series,
    and Brazil's volumes, over YEARS."""
    rng = np.random.default_rng(seed)
    trade = []
    for s in range(series):
        dataset = wine.TRADE_DATASETS[s % len(wine.TRADE_DATASETS)]
        prices = price(rng, len(YEARS))
        quantities = rng.uniform(1e3, 1e6, len(YEARS))
        trade += [(dataset, f"country {s}", year, float(q), float(q * p)) for year, p, q in zip(YEARS, prices, quantities)]
    volumes = [(year, *map(float, rng.uniform(1e8, 1e9, 3))) for year in YEARS]
    return trade, volumes


def noisy_level(sigma: float):
    """log price = the series' level + N(0, sigma) noise each year."""
    return lambda rng, n: np.exp(rng.normal(0, 1) + rng.normal(0, sigma, n))


def alternating(rng, n: int):
    """Prices that alternate year by year (with 1% noise): the origin's price (and the median of 3) is
    right two years ahead and wrong one or three years ahead, where a model reading the last change
    is nearly exact."""
    return np.exp(rng.normal(0, 1)) * np.where(np.arange(n) % 2, 2.0, 1.0) * np.exp(rng.normal(0, 0.01, n))
