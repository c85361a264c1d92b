"""The crawl worker as a real process: schedules, the spider lock, failures, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from crawler.schedules import ScheduleError, cron_trigger, cron_weekdays, load
from tests.helpers import ROOT, query, records
from tests.sites.books import BooksSite, generate_books, serve


class SlowSite(BooksSite):
    """Each request takes `delay` seconds, so that a crawl lasts long enough to be interrupted."""

    def __init__(self, books, delay: float):
        super().__init__(books)
        self.delay = delay

    def handle(self, raw_path):
        time.sleep(self.delay)
        return super().handle(raw_path)


def once_at(seconds_ahead: int) -> str:
    """A 6-field schedule (seconds first) firing once, `seconds_ahead` from now."""
    t = datetime.now() + timedelta(seconds=seconds_ahead)
    return f"{t.second} {t.minute} {t.hour} {t.day} {t.month} *"


@contextmanager
def worker(db_url, tmp_path, name="worker", **env):
    """A running ``python -m crawler.worker``; yields (process, log path); stopped with SIGTERM at the end."""
    log = tmp_path / f"{name}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "DYNO"))}
    environment.update({"DATABASE_URL": db_url, "LOG_LEVEL": "INFO", **env})
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "crawler.worker"], cwd=ROOT, env=environment,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise


def stop(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=40)


def wait_for(condition, timeout: float, *processes, log=None):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        alive = all(p.poll() is None for p in processes)
        if time.monotonic() > deadline or not alive:
            pytest.fail(f"timed out (workers alive: {alive}); log:\n{log.read_text()[-4000:] if log else ''}")
        time.sleep(0.2)
    return result


def scheduled(db) -> list[dict]:
    return records(db, "SELECT * FROM scheduled_crawls ORDER BY id")


def run_row(db, run_id) -> dict:
    return records(db, "SELECT * FROM crawl_runs WHERE id = %s", (run_id,))[0]


def test_a_scheduled_crawl_runs_is_recorded_and_logs_json(db, db_url, tmp_path):
    site = BooksSite(generate_books(40, seed=11))
    with serve(site) as base_url, worker(db_url, tmp_path, CRAWL_SCHEDULE_BOOKS=once_at(6),
                                         CRAWL_ARGS_BOOKS=f"start_url={base_url}index.html",
                                         LOG_FORMAT="json", LOGSTATS_INTERVAL="1") as (process, log):
        wait_for(lambda: [r for r in scheduled(db) if r["outcome"] != "running"], 60, process, log=log)
        assert stop(process) == 0
    [record] = scheduled(db)
    assert (record["outcome"], record["exit_code"], record["detail"]) == (
        "finished", 0, f"crawl run {record['run_id']} finished (finished)")
    assert run_row(db, record["run_id"])["inserted"] == 40
    assert query(db, "SELECT count(*) FROM books") == [(40,)]

    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object
    finished = [e for e in lines if e["logger"] == "crawler.worker" and e.get("outcome") == "finished"]
    assert finished and finished[0]["run_id"] == record["run_id"] and finished[0]["inserted"] == 40
    progress = [e for e in lines if e["logger"] == "scrapy.extensions.logstats"]
    assert progress and {"pages", "items", "pagerate", "itemrate"} <= set(progress[-1]["data"])
    assert any(e["message"].startswith(f"Crawl run {record['run_id']} finished: 40 inserted") for e in lines)


def test_two_workers_on_one_schedule_never_overlap_and_the_skip_is_recorded(db, db_url, tmp_path):
    site = SlowSite(generate_books(100, seed=12), delay=0.01)
    with serve(site) as base_url:
        env = {"CRAWL_SCHEDULE_BOOKS": once_at(7), "CRAWL_ARGS_BOOKS": f"start_url={base_url}index.html"}
        with worker(db_url, tmp_path, "a", **env) as (a, log_a), worker(db_url, tmp_path, "b", **env) as (b, log_b):
            done = wait_for(lambda: len([r for r in scheduled(db) if r["outcome"] != "running"]) == 2
                            and scheduled(db), 90, a, b, log=log_a)
            assert stop(a) == 0 and stop(b) == 0
    skipped, finished = sorted(done, key=lambda r: r["outcome"] != "skipped")
    assert (skipped["outcome"], finished["outcome"]) == ("skipped", "finished")
    assert skipped["worker"] != finished["worker"] and skipped["run_id"] is None
    assert skipped["detail"] == f"another crawl of books is running (lock held by crawl worker {finished['worker']})"
    assert query(db, "SELECT count(*) FROM crawl_runs") == [(1,)]
    assert query(db, "SELECT count(*) FROM books") == [(100,)]
    skipper_log = (log_a if skipped["worker"].endswith(f":{a.pid}") else log_b).read_text()
    assert f"Crawl of books skipped: {skipped['detail']}" in skipper_log


def test_a_failing_crawl_is_recorded_and_the_worker_keeps_running(db, db_url, tmp_path):
    with worker(db_url, tmp_path, CRAWL_SCHEDULE_BOOKS="*/2 * * * * *",
                CRAWL_ARGS_BOOKS="start_url=ftp://example.com/") as (process, log):
        failed = wait_for(lambda: len(rows := [r for r in scheduled(db) if r["outcome"] == "failed"]) >= 2 and rows,
                          60, process, log=log)
        assert process.poll() is None
        assert stop(process) == 0
    assert all(r["exit_code"] == 1 and r["run_id"] is None for r in failed)
    assert failed[1]["started_at"] > failed[0]["finished_at"]
    assert "Crawl of books failed (exit code 1)" in log.read_text()


def test_a_crawl_of_a_dead_site_is_recorded_failed_with_its_reason(db, db_url, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with worker(db_url, tmp_path, CRAWL_SCHEDULE_BOOKS=once_at(4),
                CRAWL_ARGS_BOOKS=f"start_url=http://127.0.0.1:{port}/index.html",
                SCRAPY_SETTINGS_MODULE="tests.crawler.fast_retries") as (process, log):
        [record] = wait_for(lambda: [r for r in scheduled(db) if r["outcome"] != "running"], 90, process, log=log)
        assert stop(process) == 0
    run = run_row(db, record["run_id"])
    assert (record["outcome"], record["exit_code"], run["status"]) == ("failed", 1, "failed")
    assert record["detail"] == f"crawl run {run['id']} failed ({run['finish_reason']})"
    assert "the site declared nothing" in run["finish_reason"] and "Connection refused" in run["finish_reason"]
    assert run["stats"]["retry/count"] == 6  # robots.txt and the start page, 3 retries each
    assert "Crawl of books failed (exit code 1)" in log.read_text()


@pytest.mark.parametrize("stop_timeout, reason", [("25", "shutdown"), ("0", "orphaned")])
def test_sigterm_during_a_crawl_ends_interrupted_and_loses_no_staged_item(db, db_url, tmp_path, stop_timeout, reason):
    """Graceful: Scrapy stops and merges. Timeout 0: the crawl is killed, and the worker merges what it staged."""
    site = SlowSite(generate_books(1500, seed=13), delay=0.03)
    with serve(site) as base_url, worker(db_url, tmp_path, CRAWL_SCHEDULE_BOOKS=once_at(6),
                                         CRAWL_ARGS_BOOKS=f"start_url={base_url}index.html",
                                         CONCURRENT_REQUESTS="2", LOG_LEVEL="DEBUG",
                                         WORKER_STOP_TIMEOUT=stop_timeout) as (process, log):
        wait_for(lambda: query(db, "SELECT count(*) FROM staging.books")[0][0] > 0, 60, process, log=log)
        assert stop(process) == 0
    [record] = scheduled(db)
    run = run_row(db, record["run_id"])
    assert (record["outcome"], run["status"], run["finish_reason"]) == ("interrupted", "interrupted", reason)
    staged_logged = max(int(n) for n in re.findall(r"Staged \d+ items \((\d+) this run\)", log.read_text()))
    books = query(db, "SELECT count(*) FROM books")[0][0]
    assert staged_logged <= books == run["inserted"] < 1500
    assert query(db, "SELECT count(*) FROM staging.books") == [(0,)]


@pytest.mark.parametrize("env, message", [
    ({"CRAWL_SCHEDULE_BOOK": "0 * * * *"}, "CRAWL_SCHEDULE_BOOK names no spider"),
    ({"CRAWL_SCHEDULE_BOOKS": "0 * * *"}, "expected 5 fields"),
    ({"CRAWL_SCHEDULE_BOOKS": "0 25 * * *"}, "CRAWL_SCHEDULE_BOOKS='0 25 * * *'"),
    ({"CRAWL_SCHEDULE_BOOKS": "0 * * * *", "CRAWL_ARGS_BOOKS": "start_url"}, "'start_url' is not name=value"),
    ({}, "no spider has a schedule; set one of CRAWL_SCHEDULE_BOOKS"),
])
def test_a_bad_configuration_stops_the_worker_at_start(tmp_path, env, message):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CRAWL_")}
    result = subprocess.run([sys.executable, "-m", "crawler.worker"], cwd=ROOT, env={**environment, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Worker not started: " in result.stderr and message in result.stderr


def test_cron_weekdays_are_cron_s_not_apscheduler_s():
    assert cron_weekdays("1") == "mon" and cron_weekdays("0") == cron_weekdays("7") == "sun"
    assert cron_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert cron_weekdays("*/2") == "sun,tue,thu,sat" and cron_weekdays("1/3") == "mon,thu"
    assert cron_weekdays("sat,sun") == "sun,sat" and cron_weekdays("*") == "*"
    friday = datetime(2025, 1, 3, 12).astimezone()
    assert cron_trigger("0 3 * * 1").get_next_fire_time(None, friday).strftime("%a %H:%M:%S") == "Mon 03:00:00"
    every_5s = cron_trigger("*/5 * * * * *")
    assert isinstance(every_5s, CronTrigger)
    assert every_5s.get_next_fire_time(None, friday + timedelta(seconds=1)) == friday + timedelta(seconds=5)
    with pytest.raises(ValueError):
        cron_weekdays("5-1")


def test_schedules_come_from_the_environment_for_known_spiders_only():
    env = {"CRAWL_SCHEDULE_BOOKS": "0 */6 * * *", "CRAWL_ARGS_BOOKS": "category='Historical Fiction' start_url=http://x/",
           "CRAWL_SCHEDULE_VITIBRASIL": " "}
    [books] = load(env, ["books", "vitibrasil"])
    assert (books.spider, books.args) == ("books", {"category": "Historical Fiction", "start_url": "http://x/"})
    with pytest.raises(ScheduleError, match="CRAWL_ARGS_NEWS names no spider"):
        load({**env, "CRAWL_ARGS_NEWS": "a=b"}, ["books"])
