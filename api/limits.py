"""Rate limits on ``POST /api/v1/auth/login`` (flask-limiter), checked before any password is hashed.

Two limits, each from the environment in flask-limiter's notation:

- ``LOGIN_RATE_LIMIT`` per client address, counting every attempt: one client
  cannot spend the server's CPU on scrypt;
- ``LOGIN_USER_RATE_LIMIT`` per username, counting failed attempts only (401s):
  guessing one user's password from many addresses is slow, and a user who logs
  in correctly is never counted.

A breach is a 429 in the API's error shape with ``Retry-After``. Counters live
in Redis when ``RATELIMIT_STORAGE_URI`` or ``REDIS_URL`` names one (shared by
every process and dyno), else in each process's memory (each gunicorn worker
counts on its own). If Redis fails, counting goes on in memory until it is back.

Two guards keep a flood from starving the read endpoints (bench/login_flood.py):
an address flask-limiter refused is answered 429 by a WSGI middleware until its
window frees a slot, without entering Flask (flask-limiter's own check costs
about 4 ms, a read about 7 ms); and one password is checked at a time per
machine and database (``hashing_slot``), so scrypt never takes more than one core.

The client address is the TCP peer, or with ``TRUSTED_PROXIES=N`` the address
the N-th proxy from us saw (werkzeug's ProxyFix): Heroku's router is one proxy
and appends the client it saw to ``X-Forwarded-For``, so anything a client puts
there itself is ignored. Never trust more proxies than there are.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
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

from api.errors import ApiError, error_body

LOGIN_ENDPOINT, LOGIN_PATH = "auth.login", "/api/v1/auth/login"
ADDRESS_BREACHED = "too many login attempts from this address"
_HASHING = "api.login_hashing"


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered: it wraps the login view."""
    config = app.config
    refused = RefusedAddresses(app.wsgi_app)
    app.wsgi_app = refused
    if config["TRUSTED_PROXIES"]:  # outside: the middleware sees the client's address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["TRUSTED_PROXIES"], x_proto=0, x_host=0)
    limiter = Limiter(get_remote_address, app=app, storage_uri=config["RATELIMIT_STORAGE_URI"],
                      strategy="moving-window", headers_enabled=True, in_memory_fallback_enabled=True,
                      key_prefix=config.get("RATELIMIT_KEY_PREFIX", "books-api"), retry_after="delta-seconds")
    login = app.view_functions[LOGIN_ENDPOINT]
    login = limiter.limit(lambda: config["LOGIN_RATE_LIMIT"], scope="address", error_message=ADDRESS_BREACHED,
                          on_breach=lambda limit: refused.refuse(request.remote_addr, limit.reset_at))(login)
    login = limiter.limit(lambda: config["LOGIN_USER_RATE_LIMIT"], key_func=_username, scope="username",
                          deduct_when=lambda response: response.status_code == 401,
                          error_message="too many failed logins for this username")(login)
    app.view_functions[LOGIN_ENDPOINT] = login
    # Processes on this machine serving the same database share the slot (a dyno's gunicorn workers).
    digest = hashlib.sha256((config["DATABASE_URL"] or "embedded").encode()).hexdigest()[:16]
    app.extensions[_HASHING] = (threading.Lock(), Path(tempfile.gettempdir()) / f"books-api-login-{digest}.lock")


def _username() -> str:
    """The body's username as a fixed-size key (any text, even one the API refuses, counts)."""
    try:
        body = request.get_json(silent=True)
    except HTTPException:  # e.g. 413: the view answers it
        body = None
    username = body.get("username") if isinstance(body, dict) else None
    text = username if isinstance(username, str) else repr(username)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@contextmanager
def hashing_slot():
    """Hold the machine's one password-checking slot, or 429 at once: a login never waits for it."""
    lock, path = current_app.extensions[_HASHING]
    busy = ApiError(429, "another login is being checked: retry in a second", headers={"Retry-After": "1"})
    if not lock.acquire(blocking=False):
        raise busy
    try:
        with open(path, "a") as slot:
            try:
                fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
            yield  # closing the file releases the flock
    finally:
        lock.release()


class RefusedAddresses:
    """Answers logins from an address flask-limiter refused until the window frees a slot
    (a moving window cannot free one earlier), in the error shape, without entering Flask."""

    MAX_ADDRESSES = 10_000

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.until: dict[str, float] = {}
        self.body = json.dumps(error_body(429, ADDRESS_BREACHED)).encode()

    def refuse(self, address: str | None, until: float) -> None:
        if len(self.until) >= self.MAX_ADDRESSES:
            now = time.time()
            self.until = {a: t for a, t in self.until.items() if t > now}
        if address:
            self.until[address] = until

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == LOGIN_PATH and environ.get("REQUEST_METHOD") == "POST":
            address = environ.get("REMOTE_ADDR")
            wait = self.until.get(address, 0) - time.time()
            if wait > 0:
                start_response("429 TOO MANY REQUESTS", [
                    ("Content-Type", "application/json"), ("Content-Length", str(len(self.body))),
                    ("Retry-After", str(math.ceil(wait)))])
                return [self.body]
            self.until.pop(address, None)
        return self.wsgi_app(environ, start_response)
