"""Serving the registered models: the active version of each, loaded once per process,
and its predictions. The API calls this with its request's connection.

Importable without numpy or scikit-learn: they load with the first model, so a
web worker that never predicts stays light. Every prediction reads the active
version's id and sha256 (one row, by a partial unique index) and loads the
artifact again only when another version became active; artifacts load through
ml/artifacts.py (trusted types only, bytes checked against their sha256).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

VERSION_COLUMNS = ("id, name, version, status, trained_at, algorithm, params, baseline, features, scale_feature,"
                   " feature_view, crawl_run_ids, data_version, train_size, heldout_size, model_mae, model_mape,"
                   " baseline_mae, baseline_mape, serves, artifact_sha256, backtest")


class HistoryMissing(LookupError):
    """Instances without the history they need (422): {"instances[i]...": [message]}."""

    def __init__(self, message: str, errors: dict):
        super().__init__(message)
        self.errors = errors


class BadInput(ValueError):
    """Instances whose values the model refuses (400): {"instances[i].field": [message]}."""

    def __init__(self, message: str, errors: dict):
        super().__init__(message)
        self.errors = errors


def _records(conn, query: str, params=()) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def matrix(rows, features):
    """The estimator's input: strings kept, numbers as floats, NULL as NaN (the trainer's too)."""
    import numpy as np

    return np.array([[value if isinstance(value, str) else np.nan if value is None else float(value)
                      for value in (row[f] for f in features)] for row in rows], dtype=object)


@dataclass(frozen=True)
class Active:
    row: dict          # its ml.model_versions row, without the artifact
    estimator: object
    horizons: dict     # wine_price: (scenario, horizon) -> its ml.version_horizons row

    def predict_books(self, rows: list[dict]) -> list[float]:
        """As ml/train.py's predict(): the matrix, times the scale feature when there is one."""
        import numpy as np
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # OpenMP threads per request would fight the other workers
            output = self.estimator.predict(matrix(rows, self.row["features"]))
        if scale := self.row["scale_feature"]:
            output = output * np.array([float(r[scale]) for r in rows])
        return [float(v) for v in output]


class Store:
    """The active versions this process has loaded (one per app)."""

    def __init__(self):
        self.loaded: dict[str, Active] = {}  # name -> its active version
        self._lock = threading.Lock()

    def active(self, conn, name: str) -> Active | None:
        """The active version of ``name``; None before its first training. Raises
        artifacts.UntrustedArtifact when the stored artifact is refused."""
        from ml import artifacts

        rows = _records(conn, f"SELECT {VERSION_COLUMNS} FROM ml.model_versions WHERE name = %s"
                              " AND status = 'active'", (name,))
        if not rows:
            return None
        row = rows[0]
        with self._lock:
            loaded = self.loaded.get(name)
            if loaded is None or loaded.row["artifact_sha256"] != row["artifact_sha256"]:
                data = _records(conn, "SELECT artifact FROM ml.model_versions WHERE id = %s", (row["id"],))[0]
                estimator = artifacts.load(bytes(data["artifact"]), row["artifact_sha256"])
            else:
                estimator = loaded.estimator
            if loaded is None or loaded.row["id"] != row["id"]:
                horizons = {(h["scenario"], h["horizon"]): h for h in _records(
                    conn, "SELECT * FROM ml.version_horizons WHERE version_id = %s", (row["id"],))}
                loaded = self.loaded[name] = Active(row, estimator, horizons)
        return loaded


def book_rows(conn, instances: list[dict]) -> list[dict]:
    """book_price: a listed book's row of the feature view, or the instance itself; HistoryMissing for an unknown
    book or a category without books to learn from."""
    ids = sorted({i["book_id"] for i in instances if "book_id" in i})
    books = {r["book_id"]: r for r in _records(
        conn, "SELECT * FROM ml.book_price_features WHERE book_id = ANY(%s)", (ids,))} if ids else {}
    categories = {r["category"] for r in _records(conn, "SELECT DISTINCT category FROM ml.book_price_features")}
    missing = {}
    for n, i in enumerate(instances):
        if "book_id" in i and i["book_id"] not in books:
            missing[f"instances[{n}].book_id"] = [f"No listed book {i['book_id']}."]
        elif "category" in i and i["category"] not in categories:
            missing[f"instances[{n}].category"] = [f"No book of category {i['category']!r} to learn from."]
    if missing:
        raise HistoryMissing(f"no history to predict from: {', '.join(missing)}", missing)
    return [books[i["book_id"]] if "book_id" in i else i for i in instances]


# --- wine_price ---------------------------------------------------------------------------------------------------

def _driver_errors(instances: list[dict], maxima: dict) -> dict:
    """Drivers beyond 100x the largest figure ever observed (negative and non-numbers are refused by the schema)."""
    from ml.wine import DRIVERS

    errors = {}
    for i, instance in enumerate(instances):
        for name in DRIVERS:
            if name in instance:
                value, largest = instance[name], maxima.get(name)
                if value is None or not math.isfinite(value) or value < 0:
                    errors[f"instances[{i}].{name}"] = ["Not a non-negative number."]
                elif largest is None:
                    errors[f"instances[{i}].{name}"] = [f"No observed {name} figure to condition on."]
                elif value > 100 * largest:
                    errors[f"instances[{i}].{name}"] = [
                        f"More than 100 times the largest {name} ever observed ({largest:g})."]
    return errors


def _wine_panel(conn, instances: list[dict], last_year: int):
    """The panel of the instances' series from the registered figures (years last_year - 4 .. last_year,
    and any past year asked for), one series per instance."""
    import numpy as np

    from ml import wine

    first = last_year - 4
    keys = sorted({(i["dataset"], i["country"]) for i in instances})
    past = sorted({i["year"] for i in instances if i["year"] < first})
    with conn.cursor() as cur:
        cur.execute("SELECT t.dataset, t.country, t.year::int, t.quantity, t.value_usd FROM ml.wine_trade t"
                    " JOIN unnest(%s::text[], %s::text[]) AS k (dataset, country) USING (dataset, country)"
                    " WHERE t.year >= %s OR t.year = ANY(%s::int[])",
                    ([k[0] for k in keys], [k[1] for k in keys], first, past))
        trade = cur.fetchall()
        cur.execute("SELECT dataset, year::int, sum(value_usd) FILTER (WHERE price IS NOT NULL),"
                    " sum(quantity) FILTER (WHERE price IS NOT NULL), coalesce(sum(quantity), 0) FROM ml.wine_trade"
                    " WHERE dataset = ANY(%s) AND year >= %s GROUP BY 1, 2",
                    (sorted({k[0] for k in keys}), last_year - 1))
        aggregates = cur.fetchall()
        cur.execute("SELECT year::int, production, processing, commercialization FROM ml.brazil_volumes"
                    " WHERE year >= %s", (last_year - 1,))
        volumes = cur.fetchall()
    observed = {(r[0], r[1], r[2]): wine.price_of(r[3], r[4]) for r in trade}
    recent_rows = [r for r in trade if r[2] >= first]
    present = {(r[0], r[1]) for r in recent_rows}  # a series without recent figures: NaN, answered 422 below
    recent = wine.panel(recent_rows + [(d, c, last_year, None, None) for d, c in keys if (d, c) not in present],
                        volumes, aggregates, first, last_year)
    index = {(d, c): n for n, (d, c) in enumerate(zip(recent.datasets, recent.countries))}
    rows = np.array([index[(i["dataset"], i["country"])] for i in instances])
    per_instance = wine.Panel(first, recent.datasets[rows], recent.countries[rows], recent.price[rows],
                              recent.quantity[rows], recent.dataset_price[rows], recent.dataset_quantity[rows],
                              recent.brazil)
    return per_instance, observed


def predict_wine(conn, active: Active, instances: list[dict], levels: list[float]) -> list[dict]:
    """Each instance's observation, forecast or scenario, with its conformal intervals."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from ml import wine

    params = active.row["params"]
    last_year = params["last_year"]
    if errors := _driver_errors(instances, params["driver_max"]):
        raise BadInput(f"invalid drivers: {', '.join(errors)}", errors)
    panel, observed = _wine_panel(conn, instances, last_year)
    missing, answers = {}, [None] * len(instances)
    for n, i in enumerate(instances):
        where = f"{i['country']} in {i['dataset']}"
        if i["year"] <= last_year:
            price = observed.get((i["dataset"], i["country"], i["year"]))
            if price is None:
                missing[n] = f"No observed {i['year']} price of {where}."
            else:
                answers[n] = {"instance": i, "prediction": float(price), "kind": "observed", "horizon": 0,
                              "served_by": "observation", "interval": None, "intervals": [], "inputs": []}
        elif i["year"] > last_year + max(wine.HORIZONS):
            missing[n] = f"{i['year']} is more than {max(wine.HORIZONS)} years past the data ({last_year})."
        elif not np.isfinite(panel.price[n, -1]):
            missing[n] = f"No {last_year} price of {where} to forecast from."
    if missing:
        raise HistoryMissing("no history to answer from: " + ", ".join(
            f"instances[{n}] ({instances[n]['dataset']} {instances[n]['country']} {instances[n]['year']})"
            for n in missing), {f"instances[{n}]": [message] for n, message in missing.items()})
    todo = [n for n, a in enumerate(answers) if a is None]
    if not todo:
        return answers
    drivers = np.array([[i.get(d, np.nan) for d in wine.DRIVERS] for i in instances], dtype=float)
    x = wine.design(panel, last_year, drivers)
    rules = wine.naive(panel, last_year)
    for h in wine.HORIZONS:
        for scenario in (False, True):
            group = [n for n in todo if instances[n]["year"] - last_year == h
                     and np.isfinite(drivers[n]).any() == scenario]
            if not group:
                continue
            served = active.horizons[(scenario, h)]
            if served["serves"] != "model" and scenario:  # the scenario model is not served: a plain forecast
                served = active.horizons[(False, h)]
            uses_model = served["serves"] == "model"
            kind = "scenario" if served["scenario"] and uses_model else "forecast"
            if uses_model:
                config = params["horizons"][f"{kind}_{h}"]
                estimator = active.estimator[kind][h - 1]
                with threadpool_limits(limits=1):
                    ratio = estimator.predict(x[np.ix_(group, wine.columns(config["features"]))])
                values = panel.price[group, -1] * np.exp(ratio)
            else:
                values = rules[served["serves"]][group]
            widths = []
            for level in levels:
                q = wine.conformal_quantile(served["residuals"], level)
                if not math.isfinite(q):
                    raise BadInput(f"level {level} needs more calibration residuals than the"
                                   f" {len(served['residuals'])} of horizon {h}", {"levels": [
                                       f"Too high for the calibration set of horizon {h}."]})
                widths.append((level, q))
            for n, value in zip(group, values):
                intervals = [{"level": level, "low": float(value * math.exp(-q)), "high": float(value * math.exp(q))}
                             for level, q in widths]
                inputs = [d for d, v in zip(wine.DRIVERS, drivers[n]) if np.isfinite(v)] if kind == "scenario" else []
                answers[n] = {"instance": instances[n], "prediction": float(value), "kind": kind, "horizon": h,
                              "served_by": "model" if uses_model else served["serves"],
                              "interval": intervals[0], "intervals": intervals, "inputs": inputs}
    return answers
