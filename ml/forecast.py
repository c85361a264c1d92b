"""wine_price: direct forecasts 1 to 3 years ahead, evaluated by a rolling-origin backtest.

For each horizon h a model predicts log(price[origin + h] / price[origin]) from
the features of years <= origin (ml/wine.py). The protocol (docs/ml.md):

- Backtest origins: the last ``origins`` years whose h-years-ahead price is known.
- In each fold (origin o) every choice uses years <= o only: the feature set and
  estimator settings are picked on an inner validation (origins o-h-2 .. o-h, the
  inner model trained on rows whose target year is before the first of them);
  the interval is calibrated on that inner validation's residuals (split
  conformal on |log(actual / predicted)|); then the chosen configuration is refit
  on every row whose target year is <= o and forecasts o + h.
- The naive rules (last price, mean and median of the last 3 years) are
  scored the same way, each with its own conformal interval.
- The strongest naive rule of a horizon is the one with the lowest backtest MAE;
  the model's MAE ratio to it gets a bootstrap interval over series. The model
  is served for a horizon only when the upper end is below 1 (activation).
- The scenario model adds the target year's drivers (the real figures in the
  backtest) and is evaluated and activated the same way.
- What is served is the same procedure at the last year of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ml import artifacts, wine
from ml.train import TrainingError, Trained

LEVELS = (0.8, 0.95)
FAMILIES = ("all", "wine", "other")
SETTINGS = {  # estimator settings the inner validation chooses between
    "shallow": {"max_leaf_nodes": 7, "min_samples_leaf": 80, "learning_rate": 0.05, "max_iter": 150},
    "deeper": {"max_leaf_nodes": 15, "min_samples_leaf": 40, "learning_rate": 0.1, "max_iter": 100},
}


@dataclass(frozen=True)
class Protocol:
    """The backtest's size; tests shrink it, ``python -m ml train`` uses the defaults."""
    origins: int = 6
    inner_origins: int = 3
    bootstrap: int = 1000
    feature_sets: tuple[str, ...] = tuple(wine.FEATURE_SETS)
    settings: tuple[str, ...] = tuple(SETTINGS)
    max_iter: int | None = None  # overrides the settings' (tests)
    seed: int = 0


DEFAULT_PROTOCOL = Protocol()  # what `python -m ml train` runs (tests swap in a smaller one)

TRADE_SQL = """
    SELECT dataset, item, year::int, quantity::float8, value_usd::float8 FROM vitibrasil.observations
    WHERE removed_at IS NULL AND dataset IN (SELECT name FROM vitibrasil.datasets WHERE kind = 'trade')"""
# Brazil's totals: category rows hold the totals of their items (processing tables without categories too).
VOLUMES_SQL = """
    SELECT year::int,
           sum(quantity) FILTER (WHERE dataset = 'production' AND is_category)::float8,
           sum(quantity) FILTER (WHERE dataset LIKE 'processing%' AND (is_category OR category IS NULL))::float8,
           sum(quantity) FILTER (WHERE dataset = 'commercialization' AND is_category)::float8
    FROM vitibrasil.observations
    WHERE removed_at IS NULL AND dataset IN (SELECT name FROM vitibrasil.datasets WHERE kind = 'volume')
    GROUP BY year ORDER BY year"""


@dataclass
class Rows:
    """The (series, origin) rows of one horizon, with everything a fold needs."""
    x: np.ndarray          # [N, len(ALL_FEATURES)]
    origin: np.ndarray     # [N]
    series: np.ndarray     # [N] index into the panel
    last: np.ndarray       # [N] price at the origin
    actual: np.ndarray     # [N] price at origin + h
    naive: dict = field(default_factory=dict)  # rule -> [N] forecasts

    def take(self, mask) -> "Rows":
        return Rows(self.x[mask], self.origin[mask], self.series[mask], self.last[mask], self.actual[mask],
                    {k: v[mask] for k, v in self.naive.items()})


def rows(panel: wine.Panel, h: int, scenario: bool) -> Rows:
    """Every row of horizon h: an origin with a price and a known price h years later."""
    parts = []
    for origin in range(panel.first_year + 1, panel.last_year - h + 1):
        drivers = wine.target_drivers(panel, origin + h) if scenario else None
        last, actual = panel.at(panel.price, origin), panel.at(panel.price, origin + h)
        keep = np.isfinite(last) & np.isfinite(actual)
        if keep.any():
            naive = wine.naive(panel, origin)
            parts.append(Rows(wine.design(panel, origin, drivers)[keep], np.full(keep.sum(), origin),
                              np.flatnonzero(keep), last[keep], actual[keep], {k: v[keep] for k, v in naive.items()}))
    if not parts:
        return Rows(np.empty((0, len(wine.ALL_FEATURES))), *(np.empty(0) for _ in range(4)))
    return Rows(np.concatenate([p.x for p in parts]), *(np.concatenate([getattr(p, a) for p in parts])
                                                         for a in ("origin", "series", "last", "actual")),
                {k: np.concatenate([p.naive[k] for p in parts]) for k in wine.NAIVE_RULES})


def _features(feature_set: str, scenario: bool) -> tuple[str, ...]:
    return wine.FEATURE_SETS[feature_set] + (wine.SCENARIO if scenario else ())


def _estimator(settings: str, features, protocol: Protocol, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    params = dict(SETTINGS[settings], loss="absolute_error", l2_regularization=1.0, random_state=seed)
    if protocol.max_iter:
        params["max_iter"] = protocol.max_iter
    categorical = [f in wine.CATEGORICAL for f in features]
    return HistGradientBoostingRegressor(categorical_features=categorical if any(categorical) else None, **params)


def _fit(config: tuple[str, str], scenario: bool, train: Rows, protocol: Protocol):
    """The estimator of ``config`` on ``train``; a scenario model also sees each row with a random
    half of its drivers hidden, so that an instance may give only some of them."""
    features = _features(config[0], scenario)
    x, y = train.x[:, wine.columns(features)], np.log(train.actual / train.last)
    if scenario:
        hidden = x.copy()
        mask = np.random.default_rng(protocol.seed).random((len(x), len(wine.SCENARIO))) < 0.5
        hidden[:, -len(wine.SCENARIO):][mask] = np.nan
        x, y = np.vstack([x, hidden]), np.concatenate([y, y])
    # A feature without any value (Brazil's volumes when they were not crawled) cannot be binned:
    # constant, it is never split on, and its NaN at prediction time goes nowhere.
    x[:, ~np.isfinite(x).any(axis=0)] = 0.0
    return _estimator(config[1], features, protocol, protocol.seed).fit(x, y)


def forecast(estimator, config: tuple[str, str], scenario: bool, rows_: Rows) -> np.ndarray:
    return rows_.last * np.exp(estimator.predict(rows_.x[:, wine.columns(_features(config[0], scenario))]))


def _residuals(actual, predicted) -> np.ndarray:
    return np.abs(np.log(actual / predicted))


@dataclass
class Fold:
    """The choices made at one origin, and what they forecast for origin + h."""
    config: tuple[str, str]
    model: object
    calibration: dict        # 'model' | rule -> |log residuals| of the inner validation
    validation_mae: dict     # config name -> inner validation MAE (US$/kg)
    test: Rows | None = None
    predicted: dict = field(default_factory=dict)  # 'model' | rule -> [n] forecasts of the test rows


def fold(all_rows: Rows, h: int, origin: int, scenario: bool, protocol: Protocol,
         config: tuple[str, str] | None = None) -> Fold:
    """Choose, calibrate and fit at ``origin`` from the rows whose target year is <= origin."""
    known = all_rows.origin + h <= origin
    first_inner = origin - h - protocol.inner_origins + 1
    inner_train = all_rows.take(all_rows.origin + h < first_inner)
    validation = all_rows.take(known & (all_rows.origin >= first_inner))
    if not len(inner_train.actual) or not len(validation.actual):
        raise TrainingError(f"wine_price: too few years before {origin} to choose and calibrate"
                            f" a {h}-year forecast")
    configs = [config] if config else [(f, s) for f in protocol.feature_sets for s in protocol.settings]
    scores, fitted = {}, {}
    for c in configs:
        fitted[c] = _fit(c, scenario, inner_train, protocol)
        scores[c] = float(np.abs(forecast(fitted[c], c, scenario, validation) - validation.actual).mean())
    chosen = min(scores, key=scores.get)
    calibration = {"model": _residuals(validation.actual, forecast(fitted[chosen], chosen, scenario, validation)),
                   **{r: _residuals(validation.actual, validation.naive[r]) for r in wine.NAIVE_RULES}}
    model = _fit(chosen, scenario, all_rows.take(known), protocol)
    result = Fold(chosen, model, calibration, {f"{c[0]}/{c[1]}": round(s, 6) for c, s in scores.items()})
    test = all_rows.take(all_rows.origin == origin)
    if len(test.actual):
        result.test = test
        result.predicted = {"model": forecast(model, chosen, scenario, test), **test.naive}
    return result


def _errors(actual, predicted, q: dict) -> dict:
    error = np.abs(predicted - actual)
    coverage = {}
    for level in LEVELS:
        low, high = predicted * np.exp(-q[level]), predicted * np.exp(q[level])
        coverage[str(level)] = float(((actual >= low) & (actual <= high)).mean())
    return {"mae": float(error.mean()), "median_ae": float(np.median(error)),
            "mape": float(100 * (error / actual).mean()), "coverage": coverage}


def _bootstrap(series, model_error, naive_error, draws: int, seed: int) -> tuple[float, float]:
    """95% interval of sum(model error) / sum(naive error) over series drawn with replacement."""
    keys, index = np.unique(series, return_inverse=True)
    model_sums = np.bincount(index, model_error, len(keys))
    naive_sums = np.bincount(index, naive_error, len(keys))
    counts = np.random.default_rng(seed).multinomial(len(keys), np.full(len(keys), 1 / len(keys)), size=draws)
    ratios = (counts @ model_sums) / np.maximum(counts @ naive_sums, 1e-12)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def backtest(panel: wine.Panel, all_rows: Rows, h: int, scenario: bool, protocol: Protocol) -> dict:
    """The rolling-origin backtest of one horizon (``all_rows``: rows(panel, h, scenario)): per family,
    the model's and each naive rule's errors and coverage, the strongest naive rule and the model's
    ratio to it."""
    last_origin = panel.last_year - h
    origins = list(range(last_origin - protocol.origins + 1, last_origin + 1))
    folds = [fold(all_rows, h, o, scenario, protocol) for o in origins]
    folds = [f for f in folds if f.test is not None]
    if not folds:
        raise TrainingError(f"wine_price: no backtest rows for horizon {h}")
    test = {k: np.concatenate([getattr(f.test, k) for f in folds]) for k in ("series", "actual", "origin")}
    series = np.array([f"{panel.datasets[i]}|{panel.countries[i]}" for i in test["series"]], dtype=object)
    families = wine.family(panel.datasets[test["series"]])
    rules = ("model",) + wine.NAIVE_RULES
    predicted = {r: np.concatenate([f.predicted[r] for f in folds]) for r in rules}
    # Each test row's interval half-widths, from its own fold's calibration.
    halfwidth = {r: {level: np.concatenate([np.full(len(f.test.actual), wine.conformal_quantile(
        f.calibration[r], level)) for f in folds]) for level in LEVELS} for r in rules}
    table = {}
    for name in FAMILIES:
        mask = np.ones(len(series), bool) if name == "all" else families == name
        if not mask.any():
            continue
        errors = {r: _errors(test["actual"][mask], predicted[r][mask], {lv: halfwidth[r][lv][mask] for lv in LEVELS})
                  for r in rules}
        strongest = min(wine.NAIVE_RULES, key=lambda r: errors[r]["mae"])
        low, high = _bootstrap(series[mask], np.abs(predicted["model"] - test["actual"])[mask],
                               np.abs(predicted[strongest] - test["actual"])[mask], protocol.bootstrap, protocol.seed)
        table[name] = {"rows": int(mask.sum()), "series": int(len(set(series[mask]))),
                       "model": errors["model"], "naive": {r: errors[r] for r in wine.NAIVE_RULES},
                       "strongest_naive": strongest, "ratio": errors["model"]["mae"] / errors[strongest]["mae"],
                       "ratio_low": low, "ratio_high": high}
    return {"horizon": h, "origins": [int(f.test.origin[0]) for f in folds], "families": table,
            "configs": [f"{f.config[0]}/{f.config[1]}" for f in folds]}


def read(conn) -> tuple[list[tuple], list[tuple], list[int], int | None]:
    """Trade rows, Brazil's volumes, the crawl runs behind them and the data version, in one snapshot."""
    from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

    conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
    try:
        with conn.cursor() as cur:
            cur.execute(TRADE_SQL)
            trade = cur.fetchall()
            cur.execute(VOLUMES_SQL)
            volumes = cur.fetchall()
            cur.execute("SELECT array_agg(DISTINCT run_id ORDER BY run_id) FROM vitibrasil.observations"
                        " WHERE removed_at IS NULL")
            runs = cur.fetchone()[0] or []
            cur.execute("SELECT version FROM data_versions WHERE scope = 'vitibrasil'")
            version = (cur.fetchone() or (None,))[0]
        conn.commit()
    finally:
        conn.set_session(isolation_level="DEFAULT", readonly=False)
    return trade, volumes, runs, version


def train_panel(panel: wine.Panel, protocol: Protocol) -> dict:
    """Backtest, activation and the served estimators: {'backtest', 'horizons', 'estimators', 'configs'}."""
    result = {"backtest": {}, "horizons": [], "estimators": {}, "configs": {}}
    with threadpool_limits(limits=1):  # OpenMP threads only fight each other on a shared machine
        for scenario in (False, True):
            kind = "scenario" if scenario else "forecast"
            result["backtest"][kind], result["estimators"][kind] = [], []
            for h in wine.HORIZONS:
                all_rows = rows(panel, h, scenario)
                table = backtest(panel, all_rows, h, scenario, protocol)
                served = fold(all_rows, h, panel.last_year, scenario, protocol)
                overall = table["families"]["all"]
                serves = "model" if overall["ratio_high"] < 1 else overall["strongest_naive"]
                table["serves"] = serves
                result["backtest"][kind].append(table)
                result["estimators"][kind].append(served.model)
                result["configs"][f"{kind}_{h}"] = {"feature_set": served.config[0], "settings": served.config[1],
                                                    "features": list(_features(served.config[0], scenario)),
                                                    "validation_mae": served.validation_mae}
                result["horizons"].append({
                    "scenario": scenario, "horizon": h, "strongest_naive": overall["strongest_naive"],
                    "ratio": overall["ratio"], "ratio_low": overall["ratio_low"], "ratio_high": overall["ratio_high"],
                    "serves": serves, "residuals": sorted(float(r) for r in served.calibration[serves])})
    return result


def train(conn, protocol: Protocol | None = None) -> Trained:
    return trained(*read(conn), protocol or DEFAULT_PROTOCOL)


def trained(trade: list[tuple], volumes: list[tuple], runs: list[int], data_version: int | None,
            protocol: Protocol) -> Trained:
    """wine_price trained on these figures (as read() returns them), ready to register."""
    if not trade:
        raise TrainingError("wine_price: no training data (trade figures) in vitibrasil.observations:"
                            " run `scrapy crawl vitibrasil` first")
    panel = wine.panel(trade, volumes)
    result = train_panel(panel, protocol)
    h1 = result["backtest"]["forecast"][0]["families"]["all"]
    metrics = (h1["model"]["mae"], h1["model"]["mape"], h1["naive"][h1["strongest_naive"]]["mae"],
               h1["naive"][h1["strongest_naive"]]["mape"])
    if not all(map(math.isfinite, metrics)):
        raise TrainingError("wine_price: backtest metrics are not finite")
    data, sha256 = artifacts.dumps(result["estimators"])
    maxima = {"quantity_kg": float(np.nanmax(panel.quantity)),
              **{v: float(np.nanmax(panel.brazil[:, k])) if np.isfinite(panel.brazil[:, k]).any() else None
                 for k, v in enumerate(wine.VOLUMES)}}
    serves = ", ".join(f"h{h['horizon']} {h['serves']}" for h in result["horizons"] if not h["scenario"])
    return Trained(
        name="wine_price", algorithm="HistGradientBoostingRegressor",
        params={"last_year": panel.last_year, "first_year": panel.first_year, "horizons": result["configs"],
                "protocol": {"origins": protocol.origins, "inner_origins": protocol.inner_origins,
                             "bootstrap": protocol.bootstrap, "settings": {k: SETTINGS[k] for k in protocol.settings},
                             "max_iter": protocol.max_iter},
                "target": "log(price[origin + h] / price[origin])", "driver_max": maxima, "serves": serves},
        baseline="the strongest naive rule per horizon (last price, 3-year mean or median)",
        feature_view="ml.wine_trade", features=list(wine.ALL_FEATURES), scale_feature=None,
        crawl_run_ids=list(runs), data_version=data_version,
        train_size=len(trade), heldout_size=h1["rows"], model_mae=metrics[0], model_mape=metrics[1],
        baseline_mae=metrics[2], baseline_mape=metrics[3],
        serves="model" if any(h["serves"] == "model" for h in result["horizons"]) else "baseline",
        artifact=data, artifact_sha256=sha256, estimator=result["estimators"],
        backtest=result["backtest"], horizons=result["horizons"], trade=trade, volumes=volumes)
