"""wine_price's data and feature matrix: one function for the trainer and the API.

A ``Panel`` holds trade series (dataset, country) by year: price (US$/kg),
quantity (kg), each dataset's average price and total quantity over all
countries, and Brazil's volumes. ``design`` builds the features of every
series at a forecast origin from the years up to that origin only; the
scenario columns add the target year's drivers, given as inputs.
numpy only: the API imports this module without scikit-learn.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ml.catalog import DRIVERS, HORIZONS, NAIVE_RULES, TRADE_DATASETS  # noqa: F401 (re-exported)

WINE_DATASETS = frozenset(("import_table_wine", "import_sparkling", "export_table_wine", "export_sparkling"))
VOLUMES = ("production", "processing", "commercialization")

LAGS = ("log_price", "log_change_1", "log_change_2", "log_change_3", "log_to_mean_3", "log_to_median_3",
        "log_to_mean_5", "priced_years_5", "volatility_5")
TRADE = ("dataset_code", "log_quantity", "log_quantity_change_1", "log_to_dataset_price",
         "dataset_log_change_1", "dataset_share", "log_production", "log_processing", "log_commercialization",
         "production_log_change_1")
SCENARIO = ("scenario_log_quantity_change", "scenario_log_production_change", "scenario_log_processing_change",
            "scenario_log_commercialization_change")
FEATURE_SETS = {"lags": LAGS, "lags+trade": LAGS + TRADE}
ALL_FEATURES = LAGS + TRADE + SCENARIO
CATEGORICAL = ("dataset_code",)


@dataclass
class Panel:
    """Series by year, from ``first_year``; NaN where there is no figure."""
    first_year: int
    datasets: np.ndarray        # [S] dataset of each series
    countries: np.ndarray       # [S]
    price: np.ndarray           # [S, T] US$/kg
    quantity: np.ndarray        # [S, T] kg
    dataset_price: np.ndarray   # [S, T] the series' dataset: value / quantity over its priced rows
    dataset_quantity: np.ndarray  # [S, T]
    brazil: np.ndarray          # [T, 3] production, processing, commercialization

    @property
    def last_year(self) -> int:
        return self.first_year + self.price.shape[1] - 1

    def at(self, values: np.ndarray, year: int) -> np.ndarray:
        """[S]: the column of ``values`` [S, T] for ``year``; NaN outside the panel."""
        t = year - self.first_year
        return values[:, t] if 0 <= t < values.shape[1] else np.full(values.shape[0], np.nan)

    def volumes(self, year: int) -> np.ndarray:
        """[3]: Brazil's production, processing and commercialization in ``year``; NaN outside the panel."""
        t = year - self.first_year
        return self.brazil[t] if 0 <= t < len(self.brazil) else np.full(3, np.nan)


def price_of(quantity, value_usd):
    """US$/kg when both figures are positive, else None."""
    return value_usd / quantity if quantity and value_usd and quantity > 0 and value_usd > 0 else None


def panel(trade: list[tuple], volumes: list[tuple], aggregates: list[tuple] | None = None,
          first_year: int | None = None, last_year: int | None = None) -> Panel:
    """A panel of the series in ``trade`` rows (dataset, country, year, quantity, value_usd).

    ``volumes``: (year, production, processing, commercialization). ``aggregates``: (dataset, year,
    priced value, priced quantity, quantity) over all countries; computed from ``trade`` when it holds
    every series (training), read from the database when it holds a few (serving).
    """
    years = [r[2] for r in trade]
    first = first_year if first_year is not None else min(years)
    last = last_year if last_year is not None else max(years)
    keys = sorted({(r[0], r[1]) for r in trade})
    index = {key: i for i, key in enumerate(keys)}
    shape = (len(keys), last - first + 1)
    price, quantity = np.full(shape, np.nan), np.full(shape, np.nan)
    for dataset, country, year, q, v in trade:
        if first <= year <= last:
            i, t = index[(dataset, country)], year - first
            quantity[i, t] = np.nan if q is None else float(q)
            p = price_of(q, v)
            price[i, t] = np.nan if p is None else float(p)
    if aggregates is None:
        sums: dict = {}
        for dataset, _, year, q, v in trade:
            s = sums.setdefault((dataset, year), [0.0, 0.0, 0.0])
            if price_of(q, v) is not None:
                s[0] += float(v)
                s[1] += float(q)
            s[2] += float(q or 0)
        aggregates = [(d, y, *s) for (d, y), s in sums.items()]
    by_dataset = {}
    for dataset, year, value, priced_quantity, total in aggregates:
        if first <= year <= last:
            prices, totals = by_dataset.setdefault(dataset, (np.full(shape[1], np.nan), np.full(shape[1], np.nan)))
            prices[year - first] = value / priced_quantity if priced_quantity else np.nan
            totals[year - first] = total
    empty = np.full(shape[1], np.nan)
    datasets = np.array([k[0] for k in keys], dtype=object)
    brazil = np.full((shape[1], 3), np.nan)
    for year, *figures in volumes:
        if first <= year <= last:
            brazil[year - first] = [np.nan if f is None else float(f) for f in figures]
    return Panel(first, datasets, np.array([k[1] for k in keys], dtype=object), price, quantity,
                 np.array([by_dataset.get(d, (empty, empty))[0] for d in datasets]).reshape(shape),
                 np.array([by_dataset.get(d, (empty, empty))[1] for d in datasets]).reshape(shape), brazil)


def _log_ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a / b)
    return np.where(np.isfinite(out), out, np.nan)


def window(panel: Panel, values: np.ndarray, origin: int, years: int) -> np.ndarray:
    """[S, years]: the ``years`` years up to and including ``origin``."""
    return np.stack([panel.at(values, origin - k) for k in range(years - 1, -1, -1)], axis=1)


def naive(panel: Panel, origin: int) -> dict[str, np.ndarray]:
    """Each naive rule's forecast of any later year, from the years up to ``origin``."""
    last3 = window(panel, panel.price, origin, 3)
    with _quiet():
        return {"last_price": panel.at(panel.price, origin),
                "mean_3": np.nanmean(last3, axis=1), "median_3": np.nanmedian(last3, axis=1)}


def design(panel: Panel, origin: int, drivers: np.ndarray | None = None) -> np.ndarray:
    """[S, len(ALL_FEATURES)]: every feature of each series at ``origin`` (years <= origin only).

    ``drivers`` [S, 4]: the target year's quantity_kg, production, processing and commercialization
    (NaN: not given); the scenario columns are NaN without them.
    """
    p = panel.at(panel.price, origin)
    last5 = window(panel, panel.price, origin, 5)
    with _quiet():
        steps = np.diff(np.log(last5), axis=1)
        lags = [np.log(p), _log_ratio(p, panel.at(panel.price, origin - 1)),
                _log_ratio(p, panel.at(panel.price, origin - 2)), _log_ratio(p, panel.at(panel.price, origin - 3)),
                _log_ratio(p, np.nanmean(last5[:, 2:], axis=1)), _log_ratio(p, np.nanmedian(last5[:, 2:], axis=1)),
                _log_ratio(p, np.nanmean(last5, axis=1)), np.isfinite(last5).sum(axis=1).astype(float),
                np.nanstd(steps, axis=1)]
    q, q1 = panel.at(panel.quantity, origin), panel.at(panel.quantity, origin - 1)
    dp, dq = panel.at(panel.dataset_price, origin), panel.at(panel.dataset_quantity, origin)
    volumes = np.broadcast_to(panel.volumes(origin), (len(p), 3))
    code = np.array([float(TRADE_DATASETS.index(d)) for d in panel.datasets])
    with np.errstate(all="ignore"):
        trade = [code, np.log1p(q), _log_ratio(q + 1, q1 + 1), _log_ratio(p, dp),
                 _log_ratio(dp, panel.at(panel.dataset_price, origin - 1)), np.where(dq > 0, q / dq, np.nan),
                 *np.log(volumes).T, _log_ratio(volumes[:, 0], panel.volumes(origin - 1)[0])]
        if drivers is None:
            scenario = [np.full(len(p), np.nan)] * len(SCENARIO)
        else:
            scenario = [_log_ratio(drivers[:, 0] + 1, q + 1),
                        *(_log_ratio(drivers[:, 1 + k], volumes[:, k]) for k in range(3))]
    columns = [np.where(np.isfinite(c), c, np.nan) for c in lags + trade + scenario]
    return np.column_stack([np.broadcast_to(c, (len(p),)) for c in columns])


def target_drivers(panel: Panel, year: int) -> np.ndarray:
    """[S, 4]: the real drivers of ``year`` (the backtest's scenario)."""
    return np.column_stack([panel.at(panel.quantity, year),
                            np.broadcast_to(panel.volumes(year), (len(panel.datasets), 3))])


def columns(features) -> list[int]:
    return [ALL_FEATURES.index(f) for f in features]


def family(datasets) -> np.ndarray:
    """'wine' (table wine and sparkling) or 'other' (fresh grapes, raisins, juice), per row."""
    return np.array(["wine" if d in WINE_DATASETS else "other" for d in datasets], dtype=object)


@contextmanager
def _quiet():
    """numpy's 'Mean of empty slice' and log(0) warnings: an empty window is a NaN feature, on purpose."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def conformal_quantile(residuals: np.ndarray, level: float) -> float:
    """Split-conformal quantile of absolute residuals: the ceil((n + 1) level)-th smallest
    (infinite when there are too few for the level). Hand-written (a few lines) rather than
    MAPIE, which would add a dependency for this one formula."""
    r = np.sort(np.asarray(residuals, dtype=float))
    k = int(np.ceil((len(r) + 1) * level))
    return float(r[k - 1]) if 1 <= k <= len(r) else float("inf")
