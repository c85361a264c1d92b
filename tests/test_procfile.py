"""The Procfile's three processes start, as a Procfile host runs them (bash -c), on the test server."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

import migrations
from tests.helpers import ROOT, query


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


@contextmanager
def process(kind: str, env: dict, log_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "DYNO"))}
    with open(log_path, "w") as log:
        child = subprocess.Popen(["bash", "-c", procfile()[kind]], cwd=ROOT, env={**environment, **env},
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_procfile_declares_release_web_and_worker():
    kinds = procfile()
    assert kinds["release"] == "python -m migrations"
    assert kinds["web"] == 'gunicorn --config gunicorn.conf.py "api:create_app()"'  # its settings: that file
    assert kinds["worker"] == "python -m crawler.worker"


def test_release_applies_every_migration_to_an_empty_database(empty_database, tmp_path):  # noqa: F811
    with process("release", {"DATABASE_URL": empty_database}, tmp_path / "release.log") as child:
        assert child.wait(timeout=120) == 0, (tmp_path / "release.log").read_text()
    conn = migrations.connect(empty_database)
    try:
        applied = [r[0] for r in query(conn, "SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        conn.close()
    assert applied == [p.stem for p in migrations.migration_files()]


@pytest.mark.skipif(importlib.util.find_spec("api") is None, reason="the api package is not there yet")
def test_web_answers_health(db_url, tmp_path):
    port = free_port()
    env = {"DATABASE_URL": db_url, "PORT": str(port), "WEB_CONCURRENCY": "1", "LOG_FORMAT": "json",
           "JWT_SECRET_KEY": secrets.token_urlsafe(48)}
    log = tmp_path / "web.log"
    with process("web", env, log) as child:
        deadline = time.monotonic() + 60
        while True:
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                health = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/health",
                                                headers={"X-Request-ID": "req-health-1"})
                with urllib.request.urlopen(health, timeout=5) as response:
                    status, body, request_id = response.status, json.load(response), response.headers["X-Request-ID"]
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as unauthorized:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/books/7", timeout=5)
        os.killpg(child.pid, signal.SIGTERM)
        assert child.wait(timeout=40) == 0, log.read_text()
    assert status == 200 and body["database"] == "up" and request_id == "req-health-1"
    assert body["schema_version"] == migrations.migration_files()[-1].stem

    # One JSON line per request: request id, route, status, duration.
    requests = [e for e in map(json.loads, filter(lambda line: line.startswith("{"), log.read_text().splitlines()))
                if e["logger"] == "api.requests"]
    ok = [e for e in requests if e["request_id"] == "req-health-1"]
    assert ok and ok[0]["route"] == "/api/v1/health" and ok[0]["status"] == 200 and ok[0]["duration_ms"] >= 0
    denied = requests[-1]
    assert (denied["method"], denied["route"], denied["path"], denied["status"]) == (
        "GET", "/api/v1/books/<int(max=2147483647):book_id>", "/api/v1/books/7", 401)
    assert denied["request_id"] == unauthorized.value.headers["X-Request-ID"]


def test_worker_starts_and_stops_on_sigterm(db_url, tmp_path):
    log = tmp_path / "worker.log"
    with process("worker", {"DATABASE_URL": db_url, "CRAWL_SCHEDULE_BOOKS": "0 0 1 1 *"}, log) as child:
        deadline = time.monotonic() + 60
        while "Next crawl of books at" not in log.read_text():
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        os.killpg(child.pid, signal.SIGTERM)
        assert child.wait(timeout=40) == 0, log.read_text()
    assert "Worker stopped" in log.read_text()
