"""/api/v1/ml: the feature list, and training data in JSON and CSV, streamed and stamped."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
from decimal import Decimal

import numpy as np
import pytest
import skops.io as sio
from sklearn.dummy import DummyRegressor

import migrations
from api.db import close_pool
from api.schemas.ml import FEATURES
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from ml import artifacts
from ml import forecast, registry
from ml import wine as winedata
from ml.artifacts import UntrustedArtifact
from ml.train import predict
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures
from tests.crawler.vitibrasil.storage import load as load_observations
from tests.api.helpers import PASSWORD, assert_error, make_app
from tests.helpers import query, records
from tests.ml.helpers import SMALL, alternating, synthetic, train_models

DATA = "/api/v1/ml/training-data"


def expected_row(book) -> dict:
    return {"book_id": book.id, "category": book.category, "price": book.price_incl_tax,
            "price_excl_tax": book.price_excl_tax, "tax": book.tax, "availability": book.availability,
            "in_stock": book.availability > 0, "rating": book.rating, "review_count": book.review_count,
            "description_length": len(book.description or ""), "title_length": len(book.title)}


def test_features_match_the_view(client, auth, catalogue, db_url):
    body = client.get("/api/v1/ml/features", headers=auth).get_json()
    assert [f["name"] for f in body["features"]] == [f.name for f in FEATURES]
    assert all(f["type"] and f["description"] for f in body["features"])
    assert body["crawl_run_id"] == catalogue.runs[-1]
    conn = migrations.connect(db_url)
    columns = query(conn, "SELECT column_name FROM information_schema.columns"
                          " WHERE table_schema = 'api' AND table_name = 'training_data' ORDER BY ordinal_position")
    conn.close()
    assert [c[0] for c in columns] == [f.name for f in FEATURES]


def test_training_data_json(client, auth, catalogue):
    response = client.get(DATA, headers=auth)
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "application/json"
    body = json.loads(response.get_data(as_text=True), parse_float=Decimal)
    assert body["crawl_run_id"] == catalogue.runs[-1] == int(response.headers["X-Crawl-Run-Id"])
    assert body["features"] == [f.name for f in FEATURES]
    assert body["rows"] == [expected_row(catalogue.books[i]) for i in sorted(catalogue.listed)]


def test_training_data_csv_equals_json(client, auth, catalogue):
    response = client.get(DATA, query_string={"format": "csv"}, headers=auth)
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "text/csv"
    assert response.headers["X-Crawl-Run-Id"] == str(catalogue.runs[-1])
    assert f"training-data-run-{catalogue.runs[-1]}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 960
    for row in rows:
        expected = expected_row(catalogue.books[int(row["book_id"])])
        for money in ("price", "price_excl_tax", "tax"):  # amounts as stored: two decimals
            assert re.fullmatch(r"\d+\.\d\d", row[money]) and Decimal(row.pop(money)) == expected.pop(money)
        assert row == {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in expected.items()}


def test_training_data_of_an_empty_database(db, client, auth):
    assert client.get(DATA, headers=auth).get_json() == {
        "crawl_run_id": None, "features": [f.name for f in FEATURES], "rows": []}
    assert client.get(DATA + "?format=csv", headers=auth).get_data(as_text=True) == \
        ",".join(f.name for f in FEATURES) + "\n"


def test_training_data_bad_input(client, auth):
    assert_error(client.get(DATA + "?format=xml", headers=auth), 400, "format")
    assert_error(client.get(DATA + "?limit=5", headers=auth), 400, "limit")
    assert_error(client.get("/api/v1/ml/features?x=1", headers=auth), 400, "x")


# --- Price models -----------------------------------------------------------------------------------------------

PREDICT = "/api/v1/ml/predictions"
WINE = [{"dataset": "export_table_wine", "country": "Paraguai", "year": 2025},
        {"dataset": "export_table_wine", "country": "Paraguai", "year": 2023},
        {"dataset": "import_table_wine", "country": "Chile", "year": 2025},
        {"dataset": "import_table_wine", "country": "Argentina", "year": 2010},
        {"dataset": "import_table_wine", "country": "Chile", "year": 2026},
        {"dataset": "import_fresh_grapes", "country": "Chile", "year": 2027},
        {"dataset": "import_table_wine", "country": "Chile", "year": 2025, "quantity_kg": 5e7,
         "production": 4e8}]
BOOK = {"category": "Poetry", "rating": 4, "availability": 3, "review_count": 0, "description_length": 800}


@pytest.fixture
def vitibrasil_trade(catalogue, db_url):
    """The 2025 edition (trade and volume datasets), stored as the pipelines store it."""
    conn = migrations.connect(db_url)
    if query(conn, "SELECT count(*) FROM vitibrasil.observations") == [(0,)]:
        load_observations(conn, [o for name, dataset in DATASETS.items() for o in parse_csv(
            name, (FIXTURES / "csv" / dataset.csv_name).read_bytes())])
    conn.close()


def trainer_forecast(trained, instance: dict) -> tuple[float, str, str]:
    """What the trainer's own objects forecast for ``instance`` (every series in its panel): the value,
    its kind and what served it."""
    panel = winedata.panel(trained.trade, trained.volumes)
    last = panel.last_year
    n = list(zip(panel.datasets, panel.countries)).index((instance["dataset"], instance["country"]))
    h = instance["year"] - last
    drivers = np.full((len(panel.datasets), 4), np.nan)
    drivers[n] = [instance.get(d, np.nan) for d in winedata.DRIVERS]
    served = {(r["scenario"], r["horizon"]): r for r in trained.horizons}
    row = served[(True, h)] if np.isfinite(drivers[n]).any() and served[(True, h)]["serves"] == "model" \
        else served[(False, h)]
    if row["serves"] != "model":
        return float(winedata.naive(panel, last)[row["serves"]][n]), "forecast", row["serves"]
    kind = "scenario" if row["scenario"] else "forecast"
    x = winedata.design(panel, last, drivers)[[n]][:, winedata.columns(trained.params["horizons"][f"{kind}_{h}"]["features"])]
    return float(panel.price[n, -1] * np.exp(trained.estimator[kind][h - 1].predict(x)[0])), kind, "model"


def trainer_prediction(trained, rows: list[dict]) -> list[float]:
    columns = {name: np.array([row[name] for row in rows], dtype=object) for name in trained.features}
    return [float(v) for v in predict(trained.estimator, columns, trained.features, trained.scale_feature)]


def view_rows(db_url, view: str, where: str, params) -> list[dict]:
    conn = migrations.connect(db_url)
    rows = records(conn, f"SELECT * FROM ml.{view} WHERE {where}", params)
    conn.close()
    return rows


def test_no_trained_model_yet(db, client, auth):
    models = client.get("/api/v1/ml/models", headers=auth).get_json()["models"]
    assert [(m["name"], m["active_version"], m["versions"]) for m in models] == [
        ("wine_price", None, []), ("book_price", None, [])]
    body = assert_error(client.post(PREDICT, json={"model": "book_price", "instances": [BOOK]}, headers=auth), 503)
    assert body["message"] == "model book_price has no trained version yet: run `python -m ml train book_price`"
    body = assert_error(client.post(PREDICT, json={"model": "wine_price", "instances": WINE}, headers=auth), 503)
    assert body["message"] == "model wine_price has no trained version yet: run `python -m ml train wine_price`"


@needs_fixtures
def test_models_and_predictions_equal_the_trainers(client, auth, db_url, vitibrasil_trade):
    wine, book = train_models(db_url, "wine_price", "book_price")
    models = {m["name"]: m for m in client.get("/api/v1/ml/models", headers=auth).get_json()["models"]}
    conn = migrations.connect(db_url)
    registered = {r["name"]: r for r in records(conn, "SELECT * FROM ml.model_versions WHERE status = 'active'")}
    conn.close()
    for trained in (wine, book):
        listed, row = models[trained.name], registered[trained.name]
        assert listed["active_version"] == row["version"] == listed["versions"][0]["version"]
        latest = listed["versions"][0]
        assert latest["metrics"] == {"model": {"mae": trained.model_mae, "mape": trained.model_mape},
                                     "baseline": {"mae": trained.baseline_mae, "mape": trained.baseline_mape}}
        assert latest["training_data"] == {"crawl_run_ids": trained.crawl_run_ids, "data_version": row["data_version"],
                                           "train_size": trained.train_size, "heldout_size": trained.heldout_size}
        assert (latest["serves"], latest["features"], latest["artifact_sha256"]) == (
            trained.serves, trained.features, trained.artifact_sha256)

    latest = models["wine_price"]["versions"][0]
    assert latest["backtest"] == json.loads(json.dumps(wine.backtest))
    assert [(h["scenario"], h["horizon"], h["serves"]) for h in latest["horizons"]] == [
        (h["scenario"], h["horizon"], h["serves"]) for h in wine.horizons]

    body = client.post(PREDICT, json={"model": "wine_price", "instances": WINE, "levels": [0.8, 0.95]},
                       headers=auth).get_json()
    assert (body["model"], body["version"], body["algorithm"]) == (
        "wine_price", models["wine_price"]["active_version"], "HistGradientBoostingRegressor")
    predictions = body["predictions"]
    assert [p["instance"] for p in predictions] == WINE
    conn = migrations.connect(db_url)
    observed = {(i["dataset"], i["country"], i["year"]): float(v) / float(q) for i in WINE[1:4:2] for (q, v) in
                query(conn, "SELECT quantity, value_usd FROM vitibrasil.observations"
                            " WHERE dataset = %s AND item = %s AND year = %s", (i["dataset"], i["country"], i["year"]))}
    conn.close()
    for instance, answer in zip(WINE, predictions):
        if instance["year"] <= 2024:  # the data's last year: observations, never a fitted value
            assert answer == {"instance": instance, "kind": "observed", "horizon": 0, "served_by": "observation",
                              "interval": None, "intervals": [], "inputs": [],
                              "prediction": pytest.approx(observed[tuple(instance.values())])}
            continue
        value, kind, served_by = trainer_forecast(wine, instance)
        assert (answer["prediction"], answer["kind"], answer["served_by"], answer["horizon"]) == (
            pytest.approx(value, rel=1e-9), kind, served_by, instance["year"] - 2024)
        assert [i["level"] for i in answer["intervals"]] == [0.8, 0.95] and answer["interval"] == answer["intervals"][0]
        low80, low95 = answer["intervals"][0]["low"], answer["intervals"][1]["low"]
        assert low95 < low80 < answer["prediction"] < answer["intervals"][0]["high"] < answer["intervals"][1]["high"]
        assert answer["inputs"] == (["quantity_kg", "production"] if kind == "scenario" else [])

    listed = view_rows(db_url, "book_price_features", "book_id = ANY(%s) ORDER BY book_id", ([1, 2, 999],))
    instances = [{"book_id": r["book_id"]} for r in listed] + [BOOK]
    body = client.post(PREDICT, json={"model": "book_price", "instances": instances}, headers=auth).get_json()
    assert [p["prediction"] for p in body["predictions"]] == trainer_prediction(book, listed + [BOOK])
    assert body["algorithm"] == ("HistGradientBoostingRegressor" if book.serves == "model"
                                 else f"baseline: {book.baseline}")


def test_the_served_model_answers_as_the_trainer_computes(client, auth, db_url):
    """Forecasts and scenarios where the model is served: the API's features (the series' last years
    read from ml.wine_trade) and the trainer's (the whole panel) give the same numbers."""
    trade, volumes = synthetic(alternating, series=60)
    version = forecast.trained(trade, volumes, [], None, SMALL)
    conn = migrations.connect(db_url)
    registry.register(conn, version)
    conn.close()
    served = {(h["scenario"], h["horizon"]): h["serves"] for h in version.horizons}
    assert served[(False, 1)] == served[(True, 1)] == "model"
    instances = [{"dataset": winedata.TRADE_DATASETS[s % 9], "country": f"country {s}", "year": 2016 + s % 3}
                 for s in range(30)]
    instances += [{**i, "quantity_kg": 5e5, "production": 3e8, "commercialization": 2e8} for i in instances[::2]]
    response = client.post(PREDICT, json={"model": "wine_price", "instances": instances}, headers=auth)
    assert response.status_code == 200, response.get_json()
    answers = response.get_json()["predictions"]
    assert [a["instance"] for a in answers] == instances
    for instance, answer in zip(instances, answers):
        value, kind, served_by = trainer_forecast(version, instance)
        assert (answer["prediction"], answer["kind"], answer["served_by"]) == (
            pytest.approx(value, rel=1e-9), kind, served_by)
        [interval] = answer["intervals"]
        residuals = next(h["residuals"] for h in version.horizons if h["horizon"] == answer["horizon"]
                         and h["scenario"] == (kind == "scenario") and h["serves"] == served_by)
        q = winedata.conformal_quantile(np.array(residuals), 0.8)
        assert (interval["low"], interval["high"]) == (pytest.approx(value * np.exp(-q)), pytest.approx(value * np.exp(q)))
    assert {a["kind"] for a in answers} == {"forecast", "scenario"} and "model" in {a["served_by"] for a in answers}
    assert {a["inputs"] == ["quantity_kg", "production", "commercialization"] for a in answers
            if a["kind"] == "scenario"} == {True}


def test_a_new_version_is_loaded_once(app, client, auth, db_url, catalogue):
    [first] = train_models(db_url, "book_price")
    instances = [BOOK, {**BOOK, "category": "Travel", "rating": 1}]
    answer = client.post(PREDICT, json={"model": "book_price", "instances": instances}, headers=auth).get_json()
    loaded = app.extensions["ml.serving"].loaded["book_price"].estimator
    again = client.post(PREDICT, json={"model": "book_price", "instances": instances}, headers=auth).get_json()
    assert again == answer and app.extensions["ml.serving"].loaded["book_price"].estimator is loaded

    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:  # the data moves: the next training learns other prices
        cur.execute("UPDATE books SET price = price * 2 WHERE removed_at IS NULL")
    conn.close()
    try:
        [second] = train_models(db_url, "book_price")
        newer = client.post(PREDICT, json={"model": "book_price", "instances": instances}, headers=auth).get_json()
    finally:
        conn = migrations.connect(db_url)
        with conn, conn.cursor() as cur:
            cur.execute("UPDATE books SET price = price / 2 WHERE removed_at IS NULL")
        conn.close()
    assert newer["version"] == answer["version"] + 1 and second.artifact_sha256 != first.artifact_sha256
    assert [p["prediction"] for p in newer["predictions"]] == trainer_prediction(second, instances)
    assert app.extensions["ml.serving"].loaded["book_price"].estimator is not loaded


def test_an_untrusted_artifact_is_refused(client, auth, db_url, catalogue):
    train_models(db_url, "book_price")
    estimator = DummyRegressor().fit([[0.0]], [1.0])
    estimator.hook = subprocess.Popen
    data = sio.dumps(estimator)
    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:  # as if someone wrote the registry by hand
        cur.execute("UPDATE ml.model_versions SET artifact = %s, artifact_sha256 = %s"
                    " WHERE name = 'book_price' AND status = 'active'", (data, hashlib.sha256(data).hexdigest()))
    conn.close()
    body = assert_error(client.post(PREDICT, json={"model": "book_price", "instances": [BOOK]}, headers=auth), 503)
    assert "untrusted type(s): subprocess.Popen" in body["message"] and "python -m ml train" in body["message"]
    with pytest.raises(UntrustedArtifact, match="sha256"):
        artifacts.load(data, "0" * 64)


@needs_fixtures
def test_predictions_bad_input(client, auth, db_url, vitibrasil_trade):
    train_models(db_url, "wine_price", "book_price")

    def post(body):
        return client.post(PREDICT, json=body, headers=auth)

    body = assert_error(post({"model": "nope", "instances": [BOOK]}), 404, "model")
    assert "wine_price, book_price" in body["message"]
    assert_error(post({"model": "wine_price"}), 400, "instances")
    assert_error(post({"instances": [BOOK]}), 400, "model")
    assert_error(post({"model": "wine_price", "instances": []}), 400, "instances")
    assert_error(post({"model": "wine_price", "instances": [WINE[0]] * 1001}), 400, "instances")
    assert post({"model": "wine_price", "instances": [WINE[0]] * 1000}).status_code == 200
    assert_error(post({"model": "wine_price", "instances": [{"country": "x" * 200}] * 3000}), 413)
    assert_error(post({"model": "wine_price", "instances": {"0": WINE[0]}}), 400, "instances")
    assert_error(client.post(PREDICT, data="[1]", content_type="application/json", headers=auth), 400)
    body = assert_error(post({"model": "wine_price", "instances": [
        WINE[0], {"dataset": "production", "country": "", "year": 1900}, 7, {**WINE[0], "colour": "red"}]}),
        400, "instances[1].dataset", "instances[1].country", "instances[1].year", "instances[2]",
        "instances[3].colour")
    assert "instances[0]" not in body["errors"]
    assert_error(post({"model": "book_price", "instances": [BOOK, {**BOOK, "rating": 6}]}), 400, "instances[1].rating")
    body = assert_error(post({"model": "book_price", "instances": [BOOK, {"book_id": 3, "rating": 2}]}),
                        400, "instances[1]")
    assert body["errors"]["instances[1]"] == [
        "book_price takes {book_id} or {category, rating, availability, review_count, description_length};"
        " got {book_id, rating}."]
    assert_error(post({"model": "wine_price", "instances": [{"country": "Chile", "year": 2020}]}), 400, "instances[0]")

    body = assert_error(post({"model": "wine_price", "instances": [
        WINE[0], {"dataset": "export_table_wine", "country": "Atlantida", "year": 2024},
        {"dataset": "export_table_wine", "country": "Paraguai", "year": 2030}]}), 422, "instances[1]", "instances[2]")
    assert "export_table_wine Atlantida 2024" in body["message"] and "Paraguai 2030" in body["message"]
    # Scenario drivers: negative, not a number, beyond 100 times the largest observed.
    conn = migrations.connect(db_url)
    [(largest,)] = query(conn, "SELECT max(quantity)::float8 FROM vitibrasil.observations o"
                               " JOIN vitibrasil.datasets d ON d.name = o.dataset AND d.kind = 'trade'")
    conn.close()
    assert_error(post({"model": "wine_price", "instances": [
        {**WINE[0], "production": -1}, {**WINE[0], "processing": "lots"}]}), 400,
        "instances[0].production", "instances[1].processing")
    body = assert_error(post({"model": "wine_price", "instances": [
        {**WINE[0], "quantity_kg": 99 * largest}, {**WINE[0], "quantity_kg": 101 * largest}]}), 400,
        "instances[1].quantity_kg")
    assert body["errors"]["instances[1].quantity_kg"] == [
        f"More than 100 times the largest quantity_kg ever observed ({largest:g})."]
    response = client.post(PREDICT, data='{"model": "wine_price", "instances": [{"dataset": "export_table_wine",'
                           ' "country": "Paraguai", "year": 2025, "commercialization": NaN}]}',
                           content_type="application/json", headers=auth)
    assert_error(response, 400, "instances[0].commercialization")
    assert_error(post({"model": "wine_price", "levels": [0.3], "instances": [WINE[0]]}), 400, "levels")
    assert_error(post({"model": "wine_price", "levels": [], "instances": [WINE[0]]}), 400, "levels")
    assert_error(post({"model": "book_price", "levels": [0.8], "instances": [BOOK]}), 400, "levels")
    body = assert_error(post({"model": "wine_price", "instances": [
        {"dataset": "export_table_wine", "country": "Paraguai", "year": 2028},
        {"dataset": "export_table_wine", "country": "Atlantida", "year": 2000}]}), 422, "instances[0]", "instances[1]")
    assert body["errors"] == {"instances[0]": ["2028 is more than 3 years past the data (2024)."],
                              "instances[1]": ["No observed 2000 price of Atlantida in export_table_wine."]}

    body = assert_error(post({"model": "book_price", "instances": [{"book_id": 25}, {**BOOK, "category": "Cooking"},
                                                                   {"book_id": 1}]}),
                        422, "instances[0].book_id", "instances[1].category")  # 25: removed by the second run
    assert body["errors"]["instances[0].book_id"] == ["No listed book 25."]


@needs_fixtures
def test_the_models_run_under_the_read_only_role(reader_url, db_url, user, vitibrasil_trade):
    train_models(db_url, "wine_price", "book_price")
    app = make_app(reader_url)
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "reader", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v1/ml/models", headers=headers).status_code == 200
    for model, instance in (("wine_price", WINE[0]), ("book_price", BOOK)):
        response = client.post(PREDICT, json={"model": model, "instances": [instance]}, headers=headers)
        assert response.status_code == 200, response.get_json()
    close_pool(app)


def test_the_predictions_are_documented(client):
    document = client.get("/api/v1/openapi.json").get_json()
    post = document["paths"][PREDICT]["post"]
    assert set(post["responses"]) == {"200", "400", "401", "404", "413", "422", "503"}
    assert post["requestBody"]["required"] is True
    assert set(document["paths"]["/api/v1/ml/models"]["get"]["responses"]) == {"200", "400", "401", "503"}
