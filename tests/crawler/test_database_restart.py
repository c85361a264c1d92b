"""A PostgreSQL restarted under a running crawl: mid-crawl, mid-merge, and down for longer than the crawl waits.

Each test runs its own throwaway cluster (tests/cluster.py) on a free port, so it can be stopped and started without disturbing the shared test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg2
import pytest

import migrations
from tests.cluster import Cluster, cluster_root
from tests.helpers import ROOT, last_run, query
from tests.sites.books import BooksSite, generate_books, serve


@pytest.fixture
def cluster():
    """A running throwaway cluster, with nothing in it."""
    with cluster_root("crawl-restart-") as root:
        cluster = Cluster(root, "data").initdb()
        cluster.start()
        yield cluster


def start_crawl(url: str, base_url: str, *settings: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={base_url}index.html",
               "-s", "LOG_LEVEL=INFO", "-s", "POSTGRES_BATCH_SIZE=10", "-s", "POSTGRES_FLUSH_SECONDS=0.5"]
    for setting in settings:
        command += ["-s", setting]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def staged(url: str) -> int:
    try:
        conn = psycopg2.connect(url, connect_timeout=2)
    except psycopg2.OperationalError:
        return 0
    try:
        return query(conn, "SELECT count(*) FROM staging.books")[0][0]
    except psycopg2.Error:
        return 0  # not migrated yet
    finally:
        conn.close()


def wait_until(condition, child: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, child.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class SlowSite(BooksSite):
    def handle(self, raw_path):
        time.sleep(0.02)
        return super().handle(raw_path)


def test_a_restart_during_the_crawl_loses_nothing(cluster):
    site = SlowSite(generate_books(200, seed=21))
    with serve(site) as base_url:
        child = start_crawl(cluster.url, base_url, "CONCURRENT_REQUESTS=2", "POSTGRES_RETRY_SECONDS=60")
        wait_until(lambda: staged(cluster.url) >= 30, child)
        cluster.stop()
        time.sleep(2)  # items keep coming while the database is away
        cluster.start()
        output, _ = child.communicate(timeout=180)
    assert child.returncode == 0, output[-3000:]
    assert "database connection lost" in output and "Reconnected to the database" in output
    conn = migrations.connect(cluster.url)
    run = last_run(conn)
    assert (run["status"], run["complete"], run["inserted"]) == ("finished", True, 200)
    assert query(conn, "SELECT count(*) FROM books") == [(200,)]
    assert query(conn, "SELECT count(*) FROM staging.books") == [(0,)]
    conn.close()


def test_a_restart_during_the_merge_loses_nothing(cluster):
    site = BooksSite(generate_books(60, seed=22))
    with serve(site) as base_url:
        blocker = psycopg2.connect(cluster.url)
        migrations.migrate(blocker)
        with blocker.cursor() as cur:  # the merge will wait for this lock: a merge that is under way
            cur.execute("LOCK TABLE categories IN ACCESS EXCLUSIVE MODE")
        child = start_crawl(cluster.url, base_url, "POSTGRES_RETRY_SECONDS=60")
        watcher = psycopg2.connect(cluster.url)
        watcher.autocommit = True

        def merging() -> bool:
            return bool(query(watcher, "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%%merge_books%%'"
                                       " AND wait_event_type = 'Lock'"))

        wait_until(merging, child)
        watcher.close()
        cluster.stop()  # fast: ends every session, the blocker's and the merging one
        cluster.start()
        output, _ = child.communicate(timeout=120)
    assert child.returncode == 0, output[-3000:]
    assert "merge of crawl run 1: database connection lost" in output
    conn = migrations.connect(cluster.url)
    run = last_run(conn)
    assert (run["status"], run["complete"], run["inserted"]) == ("finished", True, 60)
    assert query(conn, "SELECT count(*) FROM books") == [(60,)]
    conn.close()


def test_a_database_down_past_the_window_stops_the_crawl_and_the_next_run_recovers(cluster):
    site = SlowSite(generate_books(200, seed=23))
    with serve(site) as base_url:
        child = start_crawl(cluster.url, base_url, "CONCURRENT_REQUESTS=2", "POSTGRES_RETRY_SECONDS=2")
        wait_until(lambda: staged(cluster.url) >= 30, child)
        cluster.stop()
        stopped = time.monotonic()
        output, _ = child.communicate(timeout=60)
        took = time.monotonic() - stopped
        cluster.start()
        assert child.returncode == 1, output[-3000:]
        assert took < 30, output[-3000:]  # promptly: not the rest of the crawl
        assert "Crawl stopped: staging for crawl run 1: database unusable for 2s" in output
        assert "Traceback" not in output, output[-3000:]
        conn = migrations.connect(cluster.url)
        lost = last_run(conn)
        held = query(conn, "SELECT count(DISTINCT id) FROM staging.books")[0][0]
        assert lost["status"] == "running" and held >= 30

        child = start_crawl(cluster.url, base_url)
        output, _ = child.communicate(timeout=180)
    assert child.returncode == 0, output[-3000:]
    assert f"Merged the staged items of interrupted run {lost['id']}" in output
    assert query(conn, "SELECT status, inserted FROM crawl_runs WHERE id = %s", (lost["id"],)) == [
        ("interrupted", held)]
    assert query(conn, "SELECT count(*) FROM books") == [(200,)]
    conn.close()
