"""ml.model_versions and ml.trainings: register a trained version, record each training."""

from __future__ import annotations

import os
import socket

from psycopg2.extras import Json, execute_values

from migrations import TRAINING_LOCK
from ml.train import Trained
from ml.wine import price_of


def lock(conn) -> None:
    """Wait for the training lock (the worker, after a crawl: the new data must be trained on)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (TRAINING_LOCK,))
    conn.commit()


def try_lock(conn) -> bool:
    """Take the session lock that keeps two trainings apart; False when another process holds it."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (TRAINING_LOCK,))
        held = cur.fetchone()[0]
    conn.commit()
    return held


def close_orphans(conn) -> int:
    """Under the lock no other training runs: a 'running' row is one whose process died (kill -9)."""
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE ml.trainings SET status = 'failed', finished_at = now(),"
                    " detail = 'orphaned: its process died before recording an end' WHERE status = 'running'")
        return cur.rowcount


def start(conn, model: str, trigger: str, status: str = "running", detail: str | None = None) -> int:
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ml.trainings (model, trigger, status, detail, host, pid, finished_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s = 'running' THEN NULL ELSE now() END)"
                    " RETURNING id", (model, trigger, status, detail, socket.gethostname(), os.getpid(), status))
        return cur.fetchone()[0]


def finish(conn, training_id: int, status: str, *, version_id: int | None = None, detail: str | None = None):
    conn.rollback()  # a failure may have left the transaction aborted
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE ml.trainings SET status = %s, finished_at = now(), version_id = %s, detail = %s"
                    " WHERE id = %s", (status, version_id, detail, training_id))


def register(conn, trained: Trained) -> tuple[int, int]:
    """Store ``trained`` as the next version of its model and make it the active one; (id, version)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(version), 0) + 1 FROM ml.model_versions WHERE name = %s", (trained.name,))
        version = cur.fetchone()[0]
        cur.execute("UPDATE ml.model_versions SET status = 'retired' WHERE name = %s AND status = 'active'",
                    (trained.name,))
        cur.execute(
            """INSERT INTO ml.model_versions
                   (name, version, algorithm, params, baseline, feature_view, features, scale_feature,
                    crawl_run_ids, data_version, train_size, heldout_size, model_mae, model_mape,
                    baseline_mae, baseline_mape, serves, artifact, artifact_sha256, status, backtest)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s)
               RETURNING id""",
            (trained.name, version, trained.algorithm, Json(trained.params), trained.baseline, trained.feature_view,
             trained.features, trained.scale_feature, trained.crawl_run_ids, trained.data_version,
             trained.train_size, trained.heldout_size, trained.model_mae, trained.model_mape, trained.baseline_mae,
             trained.baseline_mape, trained.serves, trained.artifact, trained.artifact_sha256,
             None if trained.backtest is None else Json(trained.backtest)))
        version_id = cur.fetchone()[0]
        if trained.horizons:
            execute_values(cur, "INSERT INTO ml.version_horizons (version_id, scenario, horizon, strongest_naive,"
                                " ratio, ratio_low, ratio_high, serves, residuals) VALUES %s",
                           [(version_id, h["scenario"], h["horizon"], h["strongest_naive"], h["ratio"], h["ratio_low"],
                             h["ratio_high"], h["serves"], h["residuals"]) for h in trained.horizons])
        if trained.trade is not None:  # the figures the API's forecasts read: those this version learned
            cur.execute("DELETE FROM ml.wine_trade")
            execute_values(cur, "INSERT INTO ml.wine_trade (dataset, country, year, quantity, value_usd, price)"
                                " VALUES %s", [(*row, price_of(row[3], row[4])) for row in trained.trade],
                           page_size=5000)
            cur.execute("DELETE FROM ml.brazil_volumes")
            execute_values(cur, "INSERT INTO ml.brazil_volumes (year, production, processing, commercialization)"
                                " VALUES %s", trained.volumes)
        return version_id, version
