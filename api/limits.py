"""The login defence, all of it: flask-limiter's limits on ``POST /api/v1/auth/login``, and one hold.

Three limits, each from the environment in flask-limiter's notation, checked
before any password is hashed:

- ``LOGIN_RATE_LIMIT`` per client address, counting every attempt: one client
  cannot spend the server's CPU on scrypt;
- ``LOGIN_USER_RATE_LIMIT`` per username, counting failed attempts only (401s):
  guessing one user's password from many addresses is slow, and a user who logs
  in correctly is never counted;
- ``LOGIN_TOTAL_RATE_LIMIT`` over every address and username, counting the
  passwords checked (200s and 401s): a flood from many addresses (each passing
  the first two) still hashes only a few passwords a second, so scrypt never
  takes the cores the reads need.

A breach is a 429 in the API's error shape with ``Retry-After``, answered late,
not fast (a tarpit): it is held until the window frees a slot, at most
``LOGIN_HOLD_SECONDS``. A flooding client that waits for its answers then sends
a few requests a second instead of thousands, and a held request only sleeps on
a thread. At most ``LOGIN_HOLD_THREADS`` requests per process are held
(gunicorn.conf.py gives the workers more threads than that); beyond, they are
answered at once.

Counters live in Redis when ``RATELIMIT_STORAGE_URI`` or ``REDIS_URL`` names one
(shared by every process and dyno), else in each process's memory (each gunicorn
worker counts on its own). If Redis fails, counting goes on in memory until it
is back. The client address is the TCP peer, or with ``TRUSTED_PROXIES=N`` the
address the N-th proxy from us saw (werkzeug's ProxyFix): Heroku's router is one
proxy and appends the client it saw to ``X-Forwarded-For``, so anything a client
puts there itself is ignored. Never trust more proxies than there are.
"""

from __future__ import annotations

import hashlib
import threading
import time

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

_LIMITER, _HOLDS = "api.login_limiter", "api.login_holds"


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
    app.extensions[_LIMITER] = limiter
    app.extensions[_HOLDS] = threading.BoundedSemaphore(threads) if threads > 0 else None
    for limit, options in (  # checked in this order: the address first
            ("LOGIN_RATE_LIMIT", {"scope": "address", "error_message": "too many login attempts from this address"}),
            ("LOGIN_USER_RATE_LIMIT", {"key_func": _username, "scope": "username",
                                       "deduct_when": lambda response: response.status_code == 401,
                                       "error_message": "too many failed logins for this username"}),
            ("LOGIN_TOTAL_RATE_LIMIT", {"key_func": lambda: "all", "scope": "all",
                                        "deduct_when": lambda response: response.status_code in (200, 401),
                                        "error_message": "too many logins on this server: retry in a second"})):
        login = limiter.limit(lambda name=limit: config[name], **options)(login)
    return login


def _hold(app: Flask, until: float) -> None:
    """Hold a refused login until its window frees a slot, at most LOGIN_HOLD_SECONDS, on a free hold thread."""
    holds = app.extensions[_HOLDS]
    if holds is None or not holds.acquire(blocking=False):
        return
    try:
        time.sleep(max(0.0, min(until - time.time(), app.config["LOGIN_HOLD_SECONDS"])))
    finally:
        holds.release()


def _username() -> str:
    """The body's username as a fixed-size key (any text, even one the API refuses, counts)."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view answers it
        body = None
    username = body.get("username") if isinstance(body, dict) else None
    text = username if isinstance(username, str) else repr(username)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
