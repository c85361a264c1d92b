"""JWT secret policy and configuration from the environment; the real gunicorn entry point."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest

from api import ConfigurationError, create_app
from tests.helpers import ROOT

LONG = "s" * 32


@pytest.fixture
def environment(monkeypatch):
    for name in ("JWT_SECRET_KEY", "API_ENV", "FLASK_DEBUG", "JWT_ACCESS_TOKEN_EXPIRES", "JWT_REFRESH_TOKEN_EXPIRES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("secret", [None, "", "s" * 31, "é" * 15])
def test_production_refuses_missing_or_short_secret(environment, secret):
    if secret is not None:
        environment.setenv("JWT_SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY"):
        create_app()


def test_production_accepts_a_long_secret_from_the_environment(environment):
    environment.setenv("JWT_SECRET_KEY", LONG)
    environment.setenv("JWT_ACCESS_TOKEN_EXPIRES", "60")
    environment.setenv("JWT_REFRESH_TOKEN_EXPIRES", "3600")
    app = create_app()
    assert app.config["JWT_SECRET_KEY"] == LONG
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(seconds=60)
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(hours=1)
    assert create_app({"JWT_SECRET_KEY": "é" * 16}).config["JWT_SECRET_KEY"]  # 32 bytes, 16 characters


@pytest.mark.parametrize("variable, value", [("API_ENV", "development"), ("API_ENV", "testing"), ("FLASK_DEBUG", "1")])
def test_development_gets_a_random_secret(environment, variable, value):
    environment.setenv(variable, value)
    first, second = create_app().config["JWT_SECRET_KEY"], create_app().config["JWT_SECRET_KEY"]
    assert len(first) >= 32 and first != second


def test_database_url_precedence(environment):
    environment.setenv("JWT_SECRET_KEY", LONG)
    environment.setenv("DATABASE_URL", "postgresql://owner@db/books")
    assert create_app().config["DATABASE_URL"] == "postgresql://owner@db/books"
    environment.setenv("API_DATABASE_URL", "postgresql://reader@db/books")
    app = create_app()
    assert app.config["DATABASE_URL"] == "postgresql://reader@db/books"
    assert app.config["ADMIN_DATABASE_URL"] == "postgresql://owner@db/books"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "api:create_app()"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_gunicorn_serves_the_app(db_url):
    env = {**os.environ, "API_DATABASE_URL": db_url, "JWT_SECRET_KEY": LONG}
    env.pop("API_ENV", None)
    port = _free_port()
    server = _gunicorn(env, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_refuses_to_start_without_a_secret(db_url):
    env = {**os.environ, "API_DATABASE_URL": db_url}
    for name in ("JWT_SECRET_KEY", "API_ENV", "FLASK_DEBUG"):
        env.pop(name, None)
    server = _gunicorn(env, _free_port())
    output, _ = server.communicate(timeout=60)
    assert server.returncode != 0 and "JWT_SECRET_KEY is not set" in output


def _raw_request(port: int, target: str, headers: int = 0) -> tuple[int, str, str]:
    """Status, content type and body of a GET sent as bytes (no client-side limits)."""
    lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"X-Filler-{i}: x" for i in range(headers))]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.decode("latin1").partition("\r\n\r\n")
    status = int(head.split()[1])
    content_type = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                         if line.lower().startswith("content-type:")), "")
    return status, content_type, body


def test_gunicorn_config_limits_and_worker_class(db_url, tmp_path):
    """The Procfile's settings file: gthread workers; long requests reach the app (JSON) up to
    gunicorn's own limits, where gunicorn answers in HTML, as docs/api.md says."""
    port = _free_port()
    env = {**os.environ, "API_DATABASE_URL": db_url, "JWT_SECRET_KEY": LONG, "PORT": str(port),
           "WEB_CONCURRENCY": "1"}
    log = tmp_path / "web.log"
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "api:create_app()"],
                                  cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, content_type, _ = _raw_request(port, "/api/v1/health")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert status == 200 and "Using worker: gthread" in log.read_text()
        status, content_type, body = _raw_request(port, "/api/v1/books?q=" + "x" * 8000)
        assert (status, content_type) == (401, "application/json")  # the app answered
        status, content_type, body = _raw_request(port, "/api/v1/books?q=" + "x" * 8200)
        assert (status, content_type) == (414, "text/html")
        assert _raw_request(port, "/api/v1/health", headers=90)[:2] == (200, "application/json")
        assert _raw_request(port, "/api/v1/health", headers=101)[:2] == (431, "text/html")
    finally:
        server.terminate()
        server.wait(timeout=30)
