"""The crawl worker retrains the models: after a crawl that changed their data, and on ML_TRAIN_SCHEDULE."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.api.fill import load_books
from tests.helpers import ROOT, query, records
from tests.sites.books import BooksSite, generate_books
from tests.sites.server import serve


def start_worker(db_url, log, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "DYNO", "ML_"))}
    environment.update({"DATABASE_URL": db_url, "LOG_LEVEL": "INFO", **env})
    return subprocess.Popen([sys.executable, "-m", "crawler.worker"], cwd=ROOT, env=environment,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def until(condition, process, log, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.5)


def stopped(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_retrained_after_a_crawl_that_changed_the_books_only(db, db_url, tmp_path):
    log = tmp_path / "worker.log"
    with serve(BooksSite(generate_books(200, seed=5))) as base_url:
        worker = start_worker(db_url, log, CRAWL_SCHEDULE_BOOKS="*/8 * * * * *",
                              CRAWL_ARGS_BOOKS=f"start_url={base_url}index.html")
        try:  # the first crawl inserts 200 books; the next one changes nothing
            until(lambda: query(db, "SELECT count(*) FROM scheduled_crawls WHERE outcome = 'finished'")[0][0] >= 2
                  and query(db, "SELECT count(*) FROM ml.trainings WHERE status <> 'running'")[0][0] >= 1,
                  worker, log)
        finally:
            assert stopped(worker) == 0, log.read_text()[-4000:]
    first_run = query(db, "SELECT min(run_id) FROM scheduled_crawls")[0][0]
    [training] = records(db, "SELECT * FROM ml.trainings")  # only book_price, only once
    assert (training["model"], training["status"], training["trigger"]) == (
        "book_price", "finished", f"after crawl run {first_run} (books)")
    assert query(db, "SELECT name, version, status, crawl_run_ids FROM ml.model_versions") == [
        ("book_price", 1, "active", [first_run])]
    assert f"Model training after crawl run {first_run} (books) ended (exit code 0)" in log.read_text()


def test_trained_on_schedule_one_at_a_time_and_a_failure_keeps_the_model(db, db_url, tmp_path):
    load_books(db, generate_books(200, seed=6))  # books only: wine_price has nothing to train on
    log = tmp_path / "worker.log"
    worker = start_worker(db_url, log, ML_TRAIN_SCHEDULE="*/3 * * * * *")
    try:
        until(lambda: query(db, "SELECT count(*) FROM ml.model_versions")[0][0] >= 2, worker, log)
    finally:
        assert stopped(worker) == 0, log.read_text()[-4000:]
    trainings = records(db, "SELECT * FROM ml.trainings WHERE status <> 'running' ORDER BY id")
    assert {(t["model"], t["status"], t["trigger"]) for t in trainings} >= {
        ("wine_price", "failed", "schedule"), ("book_price", "finished", "schedule")}
    assert all("no training data" in t["detail"] or t["detail"] == "interrupted by SIGTERM"  # the stop
               for t in trainings if t["model"] == "wine_price")
    # Never two at once: each training started after the one before had ended.
    spans = [(t["started_at"], t["finished_at"]) for t in records(
        db, "SELECT * FROM ml.trainings WHERE finished_at IS NOT NULL ORDER BY started_at")]
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    versions = query(db, "SELECT name, status FROM ml.model_versions ORDER BY version")
    assert versions[-1] == ("book_price", "active") and {v[0] for v in versions} == {"book_price"}
