"""The login defence, all of it: flask-limiter's limits on ``POST /api/v1/auth/login``, and one hold.

Three limits, each from the environment in flask-limiter's notation, checked
before any password is hashed:

- ``LOGIN_RATE_LIMIT`` per client address, counting every attempt: one client
  cannot spend the server's CPU on scrypt;
- ``LOGIN_USER_RATE_LIMIT`` per username, counting failed attempts only (401s):
  guessing one user's password from many addresses is slow, and a user who logs
  in correctly is never counted;
A breach is a 429 in the API's error shape with ``Retry-After``. A flood from
many addresses passes both limits: one password is checked at a time per
machine and database (``password_check``: a lock file shared by a dyno's
gunicorn workers), before the user is read, so scrypt takes one core at most
and the database connections stay free for the reads; a login finding it taken
waits, then gets a 429 ("another login is being checked"). bench/login_flood.py
--distributed measured why machine-wide: with one check per process instead
(two workers), /books' p99 rose 5.05x under the flood, against 2.06x.

Both the refused login and the one waiting for the check are held (one hold):
a refused login is answered late, not fast (a tarpit), when its window frees a
slot or after ``LOGIN_HOLD_SECONDS``; a flooding client that waits for its
answers then sends a few requests a second instead of thousands, and a held
request only sleeps on a thread. At most ``LOGIN_HOLD_THREADS`` requests per
process are held (gunicorn.conf.py gives the workers more threads than that);
beyond, they are answered at once.

Counters live in Redis when ``RATELIMIT_STORAGE_URI`` or ``REDIS_URL`` names one
(shared by every process and dyno), else in each process's memory (each gunicorn
worker counts on its own). If Redis fails, counting goes on in memory until it
is back. The client address is the TCP peer, or with ``TRUSTED_PROXIES=N`` the
address the N-th proxy from us saw (werkzeug's ProxyFix): Heroku's router is one
proxy and appends the client it saw to ``X-Forwarded-For``, so anything a client
puts there itself is ignored. Never trust more proxies than there are.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import threading
import time
from contextlib import contextmanager
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
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=0, x_host=0)


def limited(app: Flask, login):
    """``login`` behind the app's limits and hold (the auth blueprint registers it so, per app)."""
    config = app.config
    limiter = Limiter(get_remote_address, app=app, storage_uri=config["RATELIMIT_STORAGE_URI"],
                      strategy="moving-window", headers_enabled=True, in_memory_fallback_enabled=True,
                      key_prefix=config.get("RATELIMIT_KEY_PREFIX", "books-api"), retry_after="delta-seconds",
                      on_breach=lambda limit: _hold(app, limit.reset_at))
    threads = config["LOGIN_HOLD_THREADS"]
    app.extensions[_HOLDS] = threading.BoundedSemaphore(threads) if threads > 0 else None
    # Processes on this machine serving the same database share the check (a dyno's gunicorn workers).
    digest = hashlib.sha256((config["DATABASE_URL"] or "embedded").encode()).hexdigest()[:16]
    app.extensions[_CHECK] = threading.Lock(), Path(tempfile.gettempdir()) / f"books-api-login-{digest}.lock"
    for limit, options in (  # checked in this order: the address first
            ("LOGIN_RATE_LIMIT", {"scope": "address", "error_message": "too many login attempts from this address"}),
            ("LOGIN_USER_RATE_LIMIT", {"key_func": _username, "scope": "username",
                                       "deduct_when": lambda response: response.status_code == 401,
                                       "error_message": "too many failed logins for this username"})):
        login = limiter.limit(lambda name=limit: config[name], **options)(login)
    return login


@contextmanager
def _held(app: Flask):
    """The seconds this request may be held: LOGIN_HOLD_SECONDS on a free hold thread, else 0."""
    holds = app.extensions[_HOLDS]
    if holds is None or not holds.acquire(blocking=False):
        yield 0.0
        return
    try:
        yield app.config["LOGIN_HOLD_SECONDS"]
    finally:
        holds.release()


def _hold(app: Flask, until: float) -> None:
    """Hold a refused login until its window frees a slot."""
    with _held(app) as seconds:
        time.sleep(max(0.0, min(until - time.time(), seconds)))


@contextmanager
def password_check():
    """The machine's one password check at a time (this process's lock, then a flock on the shared
    file), waited for while held; 429 if it stayed taken."""
    app = current_app._get_current_object()
    check, path = app.extensions[_CHECK]
    with _held(app) as seconds:
        deadline = time.monotonic() + seconds
        if not check.acquire(timeout=seconds):
            raise ApiError(429, BUSY, headers={"Retry-After": "1"})
        slot = open(path, "a")
        while True:
            try:
                fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    slot.close()
                    check.release()
                    raise ApiError(429, BUSY, headers={"Retry-After": "1"}) from None
                time.sleep(0.01)  # another process hashes for ~0.2 s: flock has no timeout
    try:
        yield
    finally:
        slot.close()  # releases the flock
        check.release()


def _username() -> str:
    """The body's username as a fixed-size key (any text, even one the API refuses, counts)."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view answers it
        body = None
    username = body.get("username") if isinstance(body, dict) else None
    text = username if isinstance(username, str) else repr(username)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
