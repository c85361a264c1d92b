"""Login rate limits (per address, per username), their 429s, the client address behind a proxy,
both storages (memory, Redis) and the request body limit."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from werkzeug.security import generate_password_hash

import migrations
from api.db import close_pool
from api.limits import BUSY
from tests.api.helpers import SECRET, assert_error, gunicorn, make_app

LOGIN = "/api/v1/auth/login"
DOWN = "postgresql://api@127.0.0.1:1/nowhere"  # nothing listens on port 1
REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def limited(db_url):
    """Apps with small login limits, closed afterwards."""
    apps = []

    def make(url=db_url, **config):
        app = make_app(url, **{"LOGIN_RATE_LIMIT": "3 per minute", "LOGIN_USER_RATE_LIMIT": "2 per minute",
                               "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex, **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_pool(app)


def login(client, username="reader", password="wrong password", address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post(LOGIN, json={"username": username, "password": password}, headers=headers)


def assert_limited(response, message: str) -> None:
    body = assert_error(response, 429)
    assert body["error"] == "too_many_requests" and body["message"] == message
    assert 0 < int(response.headers["Retry-After"]) <= 61  # the window, rounded up


def test_per_address_counts_every_attempt(limited, user):
    client = limited().test_client()
    assert login(client, password=user["password"]).status_code == 200
    assert login(client).status_code == 401
    assert login(client, "someone else").status_code == 401
    assert_limited(login(client, password=user["password"]), "too many login attempts from this address")


def test_limited_before_the_database_or_a_hash(limited):
    client = limited(DOWN).test_client()
    assert [login(client).status_code for _ in range(3)] == [503] * 3
    assert_limited(login(client), "too many login attempts from this address")


def test_per_username_counts_failures_from_any_address(limited, user):
    client = limited(LOGIN_RATE_LIMIT="100 per minute", TRUSTED_PROXIES=1).test_client()
    assert login(client, address="10.0.0.1").status_code == 401
    assert login(client, address="10.0.0.2").status_code == 401
    assert_limited(login(client, address="10.0.0.3"), "too many failed logins for this username")
    assert_limited(login(client, password=user["password"], address="10.0.0.4"),
                   "too many failed logins for this username")
    assert login(client, "another", address="10.0.0.5").status_code == 401  # other names are not held up


def test_successful_logins_do_not_count_for_the_username(limited, user):
    client = limited(LOGIN_RATE_LIMIT="100 per minute").test_client()
    for _ in range(4):
        assert login(client, password=user["password"]).status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(limited, user):
    client = limited(LOGIN_USER_RATE_LIMIT="100 per minute").test_client()
    for i in range(3):
        assert login(client, address=f"10.0.1.{i}").status_code == 401
    assert_limited(login(client, address="10.0.1.9"), "too many login attempts from this address")


def test_one_trusted_proxy_uses_the_address_it_saw(limited, user):
    """Heroku's router appends the client it saw: what the client wrote before it is not trusted."""
    client = limited(LOGIN_USER_RATE_LIMIT="100 per minute", TRUSTED_PROXIES=1).test_client()
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        assert login(client, address=f"{spoof}, 192.0.2.7").status_code == 401
    assert_limited(login(client, address="4.4.4.4, 192.0.2.7"), "too many login attempts from this address")
    assert login(client, address="192.0.2.8").status_code == 401  # another client


def test_hostile_usernames_are_counted_safely(limited, user):
    client = limited(LOGIN_RATE_LIMIT="100 per minute").test_client()
    for username in ("\ud800", "a\x00", 5, None, ["x"], "é" * 65):
        response = client.post(LOGIN, json={"username": username, "password": "x"})
        assert response.status_code == 400 and response.mimetype == "application/json"


def _redis_or_skip() -> redis.Redis:
    connection = redis.Redis.from_url(REDIS)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return connection


def test_redis_storage_is_shared_between_processes(limited, user):
    connection = _redis_or_skip()
    prefix = uuid.uuid4().hex
    first, second = (limited(RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix, LOGIN_RATE_LIMIT="9/minute")
                     .test_client()
                     for _ in range(2))
    assert login(first).status_code == 401
    assert login(second).status_code == 401
    assert_limited(login(first), "too many failed logins for this username")
    assert_limited(login(second), "too many failed logins for this username")
    assert connection.keys(f"*{prefix}*")
    connection.delete(*connection.keys(f"*{prefix}*"))
    connection.close()


def test_memory_storage_is_per_process(limited, user):
    first, second = limited().test_client(), limited().test_client()
    assert [login(first).status_code for _ in range(2)] == [401, 401]
    assert login(second).status_code == 401


def test_unreachable_redis_falls_back_to_memory(limited, user):
    client = limited(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0").test_client()
    assert login(client, password=user["password"]).status_code == 200
    assert login(client).status_code == 401
    assert login(client).status_code == 401
    assert_limited(login(client), "too many login attempts from this address")


def test_body_size_limit(limited, user):
    client = limited(MAX_CONTENT_LENGTH=1024).test_client()
    big = '{"username": "reader", "password": "' + "x" * 2000 + '"}'
    body = assert_error(client.post(LOGIN, data=big, content_type="application/json"), 413)
    assert body["error"] == "request_entity_too_large"
    assert login(client, password=user["password"]).status_code == 200


def test_one_password_check_at_a_time_per_machine(limited, user):
    """Another process checking a password (it holds the lock file's flock): a login waits for it
    at most LOGIN_HOLD_SECONDS, then is refused; once the check is free it goes through."""
    app = limited(LOGIN_RATE_LIMIT="100 per minute", LOGIN_HOLD_SECONDS=0.3)
    client, (_, path) = app.test_client(), app.extensions["api.password_check"]
    with open(path, "a") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)
        started = time.monotonic()
        body = assert_error(login(client, password=user["password"]), 429)
        assert body["message"] == BUSY
        assert time.monotonic() - started >= 0.3  # it waited first
    assert login(client, password=user["password"]).status_code == 200


def test_a_login_waits_for_the_password_check_instead_of_being_refused(limited, user):
    app = limited(LOGIN_RATE_LIMIT="100 per minute", LOGIN_HOLD_SECONDS=30)
    check, _ = app.extensions["api.password_check"]
    check.acquire()
    threading.Timer(0.3, check.release).start()  # another thread's check ends
    assert login(app.test_client(), password=user["password"]).status_code == 200


def test_a_refused_login_is_held_first(limited, user):
    app = limited(LOGIN_HOLD_SECONDS=0.5)
    client = app.test_client()
    for _ in range(3):
        login(client)
    started = time.monotonic()
    assert_limited(login(client), "too many login attempts from this address")
    assert time.monotonic() - started >= 0.5


def test_holds_are_bounded_per_process(limited, user):
    """With every hold thread taken a refused login is answered at once, as with holds off."""
    for config in ({"LOGIN_HOLD_THREADS": 1}, {"LOGIN_HOLD_THREADS": 0}):
        app = limited(LOGIN_HOLD_SECONDS=60, LOGIN_USER_RATE_LIMIT="100 per minute", **config)
        client, holds = app.test_client(), app.extensions["api.login_holds"]
        for _ in range(3):
            login(client)
        if holds:
            holds.acquire()  # the one hold thread is busy
        started = time.monotonic()
        assert_limited(login(client), "too many login attempts from this address")
        assert time.monotonic() - started < 30  # not held for its 60 s


def test_one_password_check_at_a_time_across_gunicorn_workers(db_url, tmp_path):
    """Two gunicorn workers of one thread each, so no worker ever waits for itself: a login refused
    because the check is taken (no wait: LOGIN_HOLD_SECONDS=0) was refused because the other worker was
    checking a password. With one check per process instead, both would hash at once on two cores
    (bench/login_flood.py --distributed: /books p99 x5.05 instead of x2.28) and none would be refused."""
    password = "slow password 1234"
    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:  # about a second a check, so that two logins sent together overlap
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES ('slow', %s) ON CONFLICT (username)"
                    " DO UPDATE SET active = true, password_hash = EXCLUDED.password_hash",
                    (generate_password_hash(password, method="pbkdf2:sha256:1500000"),))
    conn.close()
    metrics_dir = tmp_path / "prometheus"
    env = {**os.environ, "DATABASE_URL": db_url, "JWT_SECRET_KEY": SECRET, "LOGIN_HOLD_SECONDS": "0",
           "LOGIN_RATE_LIMIT": "1000 per minute", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}

    def post(base: str) -> str:
        body = json.dumps({"username": "slow", "password": password}).encode()
        sent = urllib.request.Request(f"{base}{LOGIN}", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(sent, timeout=60) as response:
                return str(response.status)
        except urllib.error.HTTPError as error:
            return json.load(error)["message"]

    with gunicorn(env, tmp_path / "gunicorn.log") as (_, base):
        answers = Counter()
        with ThreadPoolExecutor(4) as pool:
            for _ in range(10):  # until both workers have answered and one was refused (bounded)
                answers.update(pool.map(lambda _: post(base), range(4)))
                if answers[BUSY] and len(list(metrics_dir.glob("counter_*.db"))) >= 2:
                    break
        assert set(answers) <= {"200", BUSY}, answers
        assert answers[BUSY] and answers["200"], answers
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 2, "one worker answered every login"
        assert post(base) == "200"  # the check is free again
