"""wine_price's protocol on synthetic series: no look-ahead, choices inside the folds, calibrated
intervals, activation by the bootstrap interval. Scores are never asserted; the protocol is."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import psycopg2
import pytest

from ml import forecast, wine
from tests.helpers import ROOT, records
from tests.ml.helpers import SMALL, alternating, noisy_level, synthetic

def altered_after(trade, volumes, year: int, seed: int = 9):
    """The same data with every figure after ``year`` replaced at random."""
    rng = np.random.default_rng(seed)
    trade = [r if r[2] <= year else (*r[:3], float(rng.uniform(1, 1e6)), float(rng.uniform(1, 1e7))) for r in trade]
    volumes = [v if v[0] <= year else (v[0], *rng.uniform(1, 1e10, 3)) for v in volumes]
    return trade, volumes


def test_a_feature_of_an_origin_never_reads_a_later_year():
    trade, volumes = synthetic(noisy_level(0.3), series=60)
    panel = wine.panel(trade, volumes)
    for origin in (1995, 2005, 2014):
        other = wine.panel(*altered_after(trade, volumes, origin))
        assert not np.array_equal(panel.price, other.price, equal_nan=True)
        np.testing.assert_array_equal(wine.design(panel, origin), wine.design(other, origin))
        for rule, values in wine.naive(panel, origin).items():
            np.testing.assert_array_equal(values, wine.naive(other, origin)[rule])
    # The scenario columns read the drivers given, nothing else of the target year.
    drivers = wine.target_drivers(panel, 2010)
    np.testing.assert_array_equal(wine.design(panel, 2009, drivers), wine.design(other, 2009, drivers))


@pytest.mark.parametrize("h", [1, 3])
def test_every_choice_of_a_fold_uses_the_years_up_to_its_origin(h):
    trade, volumes = synthetic(noisy_level(0.3), series=80)
    origin = 2010
    protocol = dataclasses.replace(SMALL, settings=("shallow", "deeper"))  # something to choose between
    panel, other = wine.panel(trade, volumes), wine.panel(*altered_after(trade, volumes, origin))
    for scenario in (False, True):
        rows, other_rows = forecast.rows(panel, h, scenario), forecast.rows(other, h, scenario)
        assert len(rows.actual) != len(other_rows.actual) or not np.array_equal(rows.actual, other_rows.actual)
        fold, again = (forecast.fold(r, h, origin, scenario, protocol) for r in (rows, other_rows))
        assert len(fold.validation_mae) == 4  # 2 feature sets x 2 settings, scored on the inner validation
        assert (fold.config, fold.validation_mae) == (again.config, again.validation_mae)
        for rule in fold.calibration:
            np.testing.assert_array_equal(fold.calibration[rule], again.calibration[rule])
        if not scenario:  # the scenario's forecasts read the target year's drivers: its inputs
            np.testing.assert_array_equal(fold.predicted["model"], again.predicted["model"])
        assert not np.array_equal(fold.test.actual, again.test.actual)


def test_80_percent_intervals_cover_80_percent_of_a_known_noise():
    trade, volumes = synthetic(noisy_level(0.25), series=400, seed=4)
    panel = wine.panel(trade, volumes)
    protocol = dataclasses.replace(SMALL, origins=3, feature_sets=("lags",))
    for h in wine.HORIZONS:
        table = forecast.backtest(panel, forecast.rows(panel, h, False), h, False, protocol)
        overall = table["families"]["all"]
        assert overall["rows"] == 3 * 400
        for rule in ("model",) + wine.NAIVE_RULES:
            errors = overall["model"] if rule == "model" else overall["naive"][rule]
            assert 0.75 <= errors["coverage"]["0.8"] <= 0.85, (h, rule, errors["coverage"])
            assert errors["coverage"]["0.8"] < errors["coverage"]["0.95"]


def test_the_conformal_quantile():
    rng = np.random.default_rng(0)
    calibration = np.abs(rng.normal(size=999))
    q = wine.conformal_quantile(calibration, 0.8)
    assert q == np.sort(calibration)[799]  # the ceil((n + 1) 0.8)-th smallest
    assert abs((np.abs(rng.normal(size=200_000)) <= q).mean() - 0.8) < 0.02
    assert wine.conformal_quantile(calibration[:5], 0.95) == float("inf")  # too few for the level


def test_activation_follows_the_bootstrap_interval():
    trade, volumes = synthetic(alternating, series=120)
    result = forecast.train_panel(wine.panel(trade, volumes), SMALL)
    for row in result["horizons"]:
        assert (row["serves"] == "model") == (row["ratio_high"] < 1)
        assert row["serves"] in ("model", row["strongest_naive"])
        assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"]
    served = {(r["scenario"], r["horizon"]): r["serves"] for r in result["horizons"]}
    assert (served[(False, 1)], served[(False, 3)]) == ("model", "model")
    assert served[(False, 2)] in ("last_price", "median_3")


def test_the_registry_refuses_a_model_served_against_its_bootstrap(db):
    with db.cursor() as cur:
        cur.execute("INSERT INTO ml.model_versions (name, version, algorithm, params, baseline, feature_view, features,"
                    " crawl_run_ids, train_size, heldout_size, model_mae, model_mape, baseline_mae, baseline_mape,"
                    " serves, artifact, artifact_sha256, status, backtest) VALUES ('wine_price', 1, 'x', '{}', 'x',"
                    " 'x', '{}', '{}', 1, 1, 2, 1, 1, 1, 'model', '', repeat('0', 64), 'active', '{}') RETURNING id")
        [version_id] = cur.fetchone()
        row = "(%s, false, 1, 'mean_3', 0.9, 0.8, %s, %s, '{0.1}')"
        cur.execute("INSERT INTO ml.version_horizons (version_id, scenario, horizon, strongest_naive, ratio, ratio_low,"
                    " ratio_high, serves, residuals) VALUES " + row, (version_id, 0.99, "model"))
        for ratio_high, serves in ((1.01, "model"), (0.99, "mean_3"), (1.01, "last_price")):
            cur.execute("SAVEPOINT s")
            with pytest.raises(psycopg2.errors.CheckViolation):
                cur.execute("INSERT INTO ml.version_horizons (version_id, scenario, horizon, strongest_naive, ratio,"
                            " ratio_low, ratio_high, serves, residuals) VALUES " + row.replace("1,", "2,", 1),
                            (version_id, ratio_high, serves))
            cur.execute("ROLLBACK TO SAVEPOINT s")
    db.rollback()
    assert records(db, "SELECT * FROM ml.version_horizons") == []


def test_serving_imports_neither_scikit_learn_nor_numpy():
    code = ("import sys, api, api.ml, ml.serving, ml.artifacts, ml.catalog; "
            "print(sorted(m for m in ('sklearn', 'numpy', 'skops', 'crawler') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
