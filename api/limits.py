"""The login defence, all of it (docs/api.md, "Login limits"): flask-limiter's limits on
``POST /api/v1/auth/login``, one password check at a time per machine, and one hold serving both.

The check is machine-wide (a flock on a file in the temp folder, per database) so that a flood from
many addresses hashes on one core of a dyno, not on every worker's (bench/login_flood.py --distributed: /books
p99 x1.76-2.13 with it, x2.63-5.14 without); test_limits.py's gunicorn test shows what it guarantees.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from api.errors import ApiError

_HOLDS, _CHECK = "api.login_holds", "api.password_check"
BUSY = "another login is being checked: retry in a second"


def init_app(app: Flask) -> None:
    if app.config["TRUSTED_PROXIES"]:  # the client is who the N-th proxy from us saw (Heroku's router: 1)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=0, x_host=0)


def limited(app: Flask, login):
    """``login`` behind the app's limits, checked before any password is hashed (the address first)."""
    config = app.config
    # Counters in Redis when configured (shared by every process), else per process; in memory while Redis fails.
    limiter = Limiter(get_remote_address, app=app, storage_uri=config["RATELIMIT_STORAGE_URI"],
                      strategy="moving-window", headers_enabled=True, in_memory_fallback_enabled=True,
                      key_prefix=config.get("RATELIMIT_KEY_PREFIX", "books-api"), retry_after="delta-seconds",
                      on_breach=lambda limit: _hold(app, limit.reset_at))
    threads = config["LOGIN_HOLD_THREADS"]
    app.extensions[_HOLDS] = threading.BoundedSemaphore(threads) if threads > 0 else None
    digest = hashlib.sha256((config["DATABASE_URL"] or "embedded").encode()).hexdigest()[:16]
    app.extensions[_CHECK] = threading.Lock(), Path(tempfile.gettempdir()) / f"books-api-login-{digest}.lock"
    for limit, options in (
            ("LOGIN_RATE_LIMIT", {"scope": "address", "error_message": "too many login attempts from this address"}),
            ("LOGIN_USER_RATE_LIMIT", {"key_func": _username, "scope": "username",  # failures only (401s)
                                       "deduct_when": lambda response: response.status_code == 401,
                                       "error_message": "too many failed logins for this username"})):
        login = limiter.limit(lambda name=limit: config[name], **options)(login)
    return login


@contextmanager
def _held(app: Flask):
    """How long this request may be held: LOGIN_HOLD_SECONDS on one of the LOGIN_HOLD_THREADS, else 0."""
    holds = app.extensions[_HOLDS]
    if holds is None or not holds.acquire(blocking=False):
        yield 0.0
        return
    try:
        yield app.config["LOGIN_HOLD_SECONDS"]
    finally:
        holds.release()


def _hold(app: Flask, until: float) -> None:
    """A refused login is answered late (a tarpit), when its window frees a slot or the hold ends."""
    with _held(app) as seconds:
        time.sleep(max(0.0, min(until - time.time(), seconds)))


@contextmanager
def password_check():
    """The machine's one password check (this process's lock, then the shared file's flock), waited for
    while held; 429 if it stays taken."""
    app = current_app._get_current_object()
    check, path = app.extensions[_CHECK]
    with ExitStack() as taken:
        with _held(app) as seconds:
            deadline = time.monotonic() + seconds
            if not check.acquire(timeout=seconds):
                raise ApiError(429, BUSY, headers={"Retry-After": "1"})
            taken.callback(check.release)
            slot = taken.enter_context(open(path, "a"))  # closing it releases the flock
            while True:
                try:
                    fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another process hashes for ~0.2 s: flock has no timeout
                    if time.monotonic() >= deadline:
                        raise ApiError(429, BUSY, headers={"Retry-After": "1"}) from None
                    time.sleep(0.01)
        yield


def _username() -> str:
    """The body's username as a fixed-size key (any text, even one the API refuses, counts)."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view answers it
        body = None
    username = body.get("username") if isinstance(body, dict) else None
    text = username if isinstance(username, str) else repr(username)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
