"""Shared fixtures: a real PostgreSQL database per test session, and real crawls.

``TEST_DATABASE_URL`` names the server to use; without it the embedded server
(pgserver, under .data/) is used. Either way a fresh database is created for
the session, migrated, and dropped at the end.
"""

from __future__ import annotations

import os

# scikit-learn's OpenMP threads, two per test on a shared 2-core machine under xdist, only thrash.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import subprocess
import sys

import pytest

import migrations
from tests.helpers import ROOT, new_database, truncate_all


@pytest.fixture(scope="session")
def db_url():
    """DSN of a fresh, migrated database for this test session."""
    with new_database(os.environ.get("TEST_DATABASE_URL") or migrations.embedded_url(), "test") as url:
        conn = migrations.connect(url)
        migrations.migrate(conn)
        conn.close()
        yield url


@pytest.fixture
def db(db_url):
    """A connection to the session database, emptied of data before the test."""
    conn = migrations.connect(db_url)
    truncate_all(conn)
    yield conn
    conn.close()


@pytest.fixture
def crawl(db_url, tmp_path):
    """Run ``scrapy crawl`` in a child process against the test database."""

    def run(spider: str, *, args: dict | None = None, settings: dict | None = None,
            env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "scrapy", "crawl", spider]
        for key, value in (args or {}).items():
            command += ["-a", f"{key}={value}"]
        for key, value in {"LOG_LEVEL": "INFO", **(settings or {})}.items():
            command += ["-s", f"{key}={value}"]
        environment = {**os.environ, "DATABASE_URL": db_url, **(env or {})}
        result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
        # pytest's warning filter cannot reach a child process: check its log instead.
        assert "ScrapyDeprecationWarning" not in result.stderr, result.stderr
        return result

    return run


@pytest.fixture
def empty_database(db_url):
    """A brand-new database on the test server, dropped afterwards."""
    with new_database(db_url, "empty") as url:
        yield url
