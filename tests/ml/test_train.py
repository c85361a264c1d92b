"""``python -m ml train``: real PostgreSQL, data stored by real crawls or the pipelines' SQL, real training."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import time
from decimal import Decimal

import numpy as np
import pytest
import skops.io as sio
from sklearn.dummy import DummyRegressor

import migrations
from ml import artifacts, forecast, registry
from ml.__main__ import main
from ml.models import SPECS
from tests.ml.helpers import SMALL
from ml.train import predict, read
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from tests.api.fill import load_books
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures
from tests.crawler.vitibrasil.storage import load as load_observations
from tests.helpers import ROOT, query, records
from tests.sites.books import BooksSite, generate_books
from tests.sites.server import serve
from tests.sites.vitibrasil import VitibrasilSite


def books_priced(price_of, n: int = 400) -> list:
    """Generated books whose price is ``price_of(book)``."""
    books = []
    for book in generate_books(n, seed=3):
        price = Decimal(price_of(book)).quantize(Decimal("0.01"))
        books.append(dataclasses.replace(book, price_incl_tax=price, price_excl_tax=price, tax=Decimal(0)))
    return books


def versions(db, name: str) -> list[dict]:
    return records(db, "SELECT * FROM ml.model_versions WHERE name = %s ORDER BY version", (name,))


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    """``python -m ml train ...`` in-process against the test database: (exit status, stdout, stderr);
    wine_price's backtest at the tests' size."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(forecast, "DEFAULT_PROTOCOL", SMALL)

    def run(*args: str) -> tuple[int, str, str]:
        status = main(["train", *args])
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def test_the_model_is_served_when_it_beats_the_baseline(db, cli):
    # The price follows the rating, not the category: the category median is a poor guess.
    run_id = load_books(db, books_priced(lambda b: 10 * b.rating + b.id % 3))
    status, out, err = cli("book_price")
    assert (status, err) == (0, "")
    [row] = versions(db, "book_price")
    assert row["serves"] == "model" and row["model_mae"] < row["baseline_mae"]
    assert (row["name"], row["version"], row["status"], row["algorithm"]) == (
        "book_price", 1, "active", "HistGradientBoostingRegressor")
    assert row["features"] == ["category", "rating", "availability", "review_count", "description_length"]
    assert row["feature_view"] == "ml.book_price_features" and row["scale_feature"] is None
    assert row["crawl_run_ids"] == [run_id]
    [(versioned,)] = query(db, "SELECT to_regclass('public.data_versions') IS NOT NULL")  # 0009_data_version
    assert row["data_version"] == (query(db, "SELECT version FROM data_versions WHERE scope = 'books'")[0][0]
                                   if versioned else None)
    # One book in five, by a stable hash of its id.
    assert row["train_size"] + row["heldout_size"] == 400 and 60 <= row["heldout_size"] <= 100
    assert row["params"]["feature_set"] == "page" and row["params"]["estimator"]["loss"] == "absolute_error"
    assert row["model_mape"] > 0 and row["baseline_mape"] > 0
    data = bytes(row["artifact"])
    assert hashlib.sha256(data).hexdigest() == row["artifact_sha256"]
    assert f"book_price v1: serves the model; held-out MAE {row['model_mae']:.4f} GBP" in out
    [training] = records(db, "SELECT * FROM ml.trainings")
    assert (training["model"], training["status"], training["trigger"], training["version_id"]) == (
        "book_price", "finished", "cli", row["id"])

    # The stored artifact is the estimator refit on every book; it predicts the view's rows.
    columns, _, _ = read(db, SPECS["book_price"])
    prediction = predict(artifacts.load(data), columns, row["features"], None)
    assert np.abs(prediction - columns["price"].astype(float)).mean() < row["baseline_mae"]


def test_the_baseline_is_served_when_the_model_is_not_better(db, cli):
    # Every book of a category costs the same: the category median is exact, nothing can beat it.
    prices = {}
    load_books(db, books_priced(lambda b: prices.setdefault(b.category, 5 + 3 * len(prices))))
    assert cli("book_price")[0] == 0
    [row] = versions(db, "book_price")
    assert (row["serves"], row["baseline_mae"], row["features"]) == ("baseline", 0.0, ["category"])
    assert row["model_mae"] > 0 and row["status"] == "active"
    columns, _, _ = read(db, SPECS["book_price"])
    served = predict(artifacts.load(bytes(row["artifact"])), columns, row["features"], None)
    assert list(served) == list(columns["price"].astype(float))

    # A new version retires the previous one: one active version per model.
    assert cli("book_price")[0] == 0
    assert [(v["version"], v["status"]) for v in versions(db, "book_price")] == [(1, "retired"), (2, "active")]


def test_a_failed_training_keeps_the_active_version(db, cli):
    load_books(db, books_priced(lambda b: 10 * b.rating))
    assert cli("book_price")[0] == 0
    with db, db.cursor() as cur:
        cur.execute("UPDATE books SET removed_at = now()")  # nothing left to train on
    status, out, err = cli("book_price")
    assert (status, out) == (1, "")
    assert err == "error: book_price: no training data in ml.book_price_features: run `scrapy crawl books` first\n"
    assert [(v["version"], v["status"]) for v in versions(db, "book_price")] == [(1, "active")]
    assert query(db, "SELECT status, version_id IS NULL, detail FROM ml.trainings ORDER BY id")[1] == (
        "failed", True, err[len("error: "):].strip())


def test_one_training_at_a_time(db, db_url, cli):
    load_books(db, books_priced(lambda b: 10 * b.rating))
    holder = migrations.connect(db_url)
    try:
        assert registry.try_lock(holder)
        status, out, err = cli()
        assert (status, out) == (3, "")
        assert err == "error: another training is running (it holds the training lock): nothing trained\n"
        assert query(db, "SELECT model, status FROM ml.trainings ORDER BY id") == [
            ("wine_price", "skipped"), ("book_price", "skipped")]
        assert query(db, "SELECT count(*) FROM ml.model_versions") == [(0,)]
        registry.start(holder, "wine_price", "cli")  # as left by a training killed with -9
    finally:
        backend = holder.info.backend_pid
        holder.close()
    deadline = time.monotonic() + 30  # the server ends a closed session's backend (and its locks) a moment later
    while query(db, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,)) != [(0,)]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert cli("book_price")[0] == 0  # the lock went with its session
    assert query(db, "SELECT model, status, detail FROM ml.trainings ORDER BY id")[2:] == [
        ("wine_price", "failed", "orphaned: its process died before recording an end"),
        ("book_price", "finished", None)]


def test_exit_status_and_one_line_when_nothing_can_be_trained(empty_database):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": empty_database}
    result = subprocess.run([sys.executable, "-m", "ml", "train"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: wine_price: no training data (trade figures) in vitibrasil.observations: run `scrapy crawl vitibrasil` first",
        "error: book_price: no training data in ml.book_price_features: run `scrapy crawl books` first"]

    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"  # nothing listens on port 9
    result = subprocess.run([sys.executable, "-m", "ml", "train", "wine_price"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: database unreachable at postgresql://nobody@127.0.0.1:9/none: ")

    result = subprocess.run([sys.executable, "-m", "ml", "train", "wine"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unknown model(s): wine (known: wine_price, book_price)" in result.stderr


def test_the_safe_loader_refuses_an_untrusted_type():
    estimator = DummyRegressor().fit([[0.0]], [1.0])
    estimator.hook = subprocess.Popen  # any type outside the list: a loader must not rebuild it
    data = sio.dumps(estimator)
    with pytest.raises(artifacts.UntrustedArtifact, match="subprocess.Popen"):
        artifacts.load(data)
    with pytest.raises(artifacts.UntrustedArtifact, match="subprocess.Popen"):
        artifacts.dumps(estimator)


@needs_fixtures
def test_real_crawls_then_both_models(db, crawl, cli):
    """After crawling the local Vitibrasil (2025 edition) and books sites, `python -m ml train`
    registers both models; wine_price with its backtest, activation per horizon and figures."""
    with serve(VitibrasilSite(FIXTURES / "csv")) as base_url:
        result = crawl("vitibrasil", args={"base_url": base_url})
        assert result.returncode == 0, result.stderr[-3000:]
    site = BooksSite(generate_books(300, seed=11))
    with serve(site) as base_url:
        result = crawl("books", args={"start_url": base_url + "index.html"})
        assert result.returncode == 0, result.stderr[-3000:]
    status, out, err = cli()
    assert (status, err) == (0, ""), err
    assert [line.split(":")[0] for line in out.splitlines()] == ["wine_price v1", "book_price v1"]

    [wine] = versions(db, "wine_price")
    runs = [r[0] for r in query(db, "SELECT id FROM crawl_runs WHERE spider = 'vitibrasil'")]
    assert wine["crawl_run_ids"] == runs and wine["params"]["last_year"] == 2024
    horizons = records(db, "SELECT * FROM ml.version_horizons WHERE version_id = %s ORDER BY scenario, horizon",
                       (wine["id"],))
    assert [(h["scenario"], h["horizon"]) for h in horizons] == [(s, h) for s in (False, True) for h in (1, 2, 3)]
    for row in horizons:
        table = wine["backtest"]["scenario" if row["scenario"] else "forecast"][row["horizon"] - 1]
        overall = table["families"]["all"]
        assert (row["serves"] == "model") == (overall["ratio_high"] < 1)
        assert row["serves"] in ("model", overall["strongest_naive"]) and table["serves"] == row["serves"]
        assert overall["naive"][overall["strongest_naive"]]["mae"] == min(
            overall["naive"][r]["mae"] for r in ("last_price", "mean_3", "median_3"))
        assert overall["rows"] == table["families"]["wine"]["rows"] + table["families"]["other"]["rows"]
    # The backtest's last-price MAE at h=1, recomputed here from the observations, over its origins.
    h1 = wine["backtest"]["forecast"][0]
    assert h1["origins"] == [2022, 2023]  # the tests' protocol: the last 2 origins with a known h=1 price
    [(mae, count)] = query(db, """
        SELECT avg(abs(o.value_usd / o.quantity - p.value_usd / p.quantity))::float8, count(*)
        FROM vitibrasil.observations o JOIN vitibrasil.observations p
          ON p.dataset = o.dataset AND p.item = o.item AND p.year = o.year - 1
        JOIN vitibrasil.datasets d ON d.name = o.dataset AND d.kind = 'trade'
        WHERE o.year IN (2023, 2024) AND o.quantity > 0 AND o.value_usd > 0 AND p.quantity > 0 AND p.value_usd > 0""")
    assert (h1["families"]["all"]["rows"], h1["families"]["all"]["naive"]["last_price"]["mae"]) == (
        count, pytest.approx(mae))
    assert query(db, "SELECT count(*) FROM ml.wine_trade") == query(
        db, "SELECT count(*) FROM vitibrasil.observations o JOIN vitibrasil.datasets d ON d.name = o.dataset"
            " AND d.kind = 'trade' WHERE o.removed_at IS NULL")

    [book] = versions(db, "book_price")  # random generated prices: whichever the rule picked, it is consistent
    assert (book["serves"] == "model") == (book["model_mae"] < book["baseline_mae"])


@needs_fixtures
def test_each_training_is_logged_to_mlflow_when_configured(db, cli, monkeypatch, tmp_path):
    load_observations(db, [o for name in ("export_table_wine", "import_table_wine") for o in parse_csv(
        name, (FIXTURES / "csv" / DATASETS[name].csv_name).read_bytes())])
    assert cli("wine_price")[0] == 0  # MLFLOW_TRACKING_URI unset: nothing to log to
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local file store, as the tests allow
    status, out, err = cli("wine_price")
    assert (status, err) == (0, "")
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    [run] = client.search_runs([client.get_experiment_by_name("wine_price").experiment_id])
    [row] = [v for v in versions(db, "wine_price") if v["version"] == 2]
    assert run.info.run_name == "wine_price v2" and run.data.tags["artifact_sha256"] == row["artifact_sha256"]
    for kind in ("forecast", "scenario"):
        for table in row["backtest"][kind]:
            figures = table["families"]["all"]
            prefix = f"{kind}/h{table['horizon']}/all"
            assert run.data.metrics[f"{prefix}/ratio_high"] == pytest.approx(figures["ratio_high"])
            assert run.data.metrics[f"{prefix}/model/coverage/0.8"] == pytest.approx(
                figures["model"]["coverage"]["0.8"])
            assert run.data.params[f"{kind}/h{table['horizon']}/serves"] == table["serves"]
    assert run.data.params["last_year"] == "2024"
    [artifact] = client.list_artifacts(run.info.run_id)
    assert artifact.path == "wine_price-v2.skops"
    path = client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path))
    assert open(path, "rb").read() == bytes(row["artifact"])
