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

- one password is checked at a time per machine and database (``hashing_slot``),
  so scrypt never takes more than one core;
- a refused login is answered late, not fast (a tarpit): once flask-limiter has
  refused an address, a WSGI middleware answers its further logins without
  entering Flask, after holding each for up to ``LOGIN_HOLD_SECONDS``; a login
  finding the hashing slot taken waits for it as long. A flooding client that
  waits for its answers then sends a few requests a second instead of thousands,
  and a held request only sleeps on a thread. At most ``LOGIN_HOLD_THREADS``
  requests per process are held (gunicorn.conf.py gives the workers more threads
  than that); beyond, they are answered at once, as before the hold.

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
BUSY = "another login is being checked: retry in a second"
_GUARD = "api.login_guard"


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered: it wraps the login view."""
    config = app.config
    # Processes on this machine serving the same database share the slot (a dyno's gunicorn workers).
    digest = hashlib.sha256((config["DATABASE_URL"] or "embedded").encode()).hexdigest()[:16]
    guard = LoginGuard(app.wsgi_app, Path(tempfile.gettempdir()) / f"books-api-login-{digest}.lock",
                       config["LOGIN_HOLD_SECONDS"], config["LOGIN_HOLD_THREADS"])
    app.wsgi_app = app.extensions[_GUARD] = guard
    if config["TRUSTED_PROXIES"]:  # outside: the middleware sees the client's address
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["TRUSTED_PROXIES"], x_proto=0, x_host=0)
    limiter = Limiter(get_remote_address, app=app, storage_uri=config["RATELIMIT_STORAGE_URI"],
                      strategy="moving-window", headers_enabled=True, in_memory_fallback_enabled=True,
                      key_prefix=config.get("RATELIMIT_KEY_PREFIX", "books-api"), retry_after="delta-seconds")
    login = app.view_functions[LOGIN_ENDPOINT]
    login = limiter.limit(lambda: config["LOGIN_RATE_LIMIT"], scope="address", error_message=ADDRESS_BREACHED,
                          on_breach=lambda limit: guard.refuse(request.remote_addr, limit.reset_at))(login)
    login = limiter.limit(lambda: config["LOGIN_USER_RATE_LIMIT"], key_func=_username, scope="username",
                          deduct_when=lambda response: response.status_code == 401,
                          error_message="too many failed logins for this username")(login)
    app.view_functions[LOGIN_ENDPOINT] = login


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
    """Hold the machine's one password-checking slot while the body runs, or 429."""
    guard = current_app.extensions[_GUARD]
    slot = guard.take_slot()
    if slot is None:
        raise ApiError(429, BUSY, headers={"Retry-After": "1"})
    try:
        yield
    finally:
        guard.release_slot(slot)


class LoginGuard:
    """WSGI middleware answering logins from an address flask-limiter refused, in the error
    shape, without entering Flask, until the window frees a slot (a moving window cannot
    free one earlier); and the machine's password-checking slot. Both hold requests."""

    MAX_ADDRESSES = 10_000

    def __init__(self, wsgi_app, slot: Path, hold_seconds: float, hold_threads: int):
        self.wsgi_app, self.slot, self.lock = wsgi_app, slot, threading.Lock()
        self.hold_seconds = hold_seconds
        self.holds = threading.BoundedSemaphore(hold_threads) if hold_threads > 0 else None
        self.until: dict[str, float] = {}
        self.refused = json.dumps(error_body(429, ADDRESS_BREACHED)).encode()

    def refuse(self, address: str | None, until: float) -> None:
        if len(self.until) >= self.MAX_ADDRESSES:
            now = time.time()
            self.until = {a: t for a, t in self.until.items() if t > now}
        if address:
            self.until[address] = until

    @contextmanager
    def hold(self):
        """The seconds this request may be held: ``hold_seconds`` on a free hold thread, else 0."""
        if self.holds is None or not self.holds.acquire(blocking=False):
            yield 0.0
            return
        try:
            yield self.hold_seconds
        finally:
            self.holds.release()

    def take_slot(self):
        """The password-checking slot (this process's lock, then the machine's flock on an open
        file, given back with ``release_slot``), waiting for it while held; None if it stayed taken."""
        with self.hold() as seconds:
            deadline = time.monotonic() + seconds
            if not self.lock.acquire(timeout=seconds):  # 0: try once
                return None
            slot = open(self.slot, "a")
            while True:
                try:
                    fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return slot
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self.release_slot(slot)
                        return None
                    time.sleep(0.01)  # another process hashes for ~0.2 s: flock has no timeout

    def release_slot(self, slot) -> None:
        slot.close()  # releases the flock, if taken
        self.lock.release()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == LOGIN_PATH and environ.get("REQUEST_METHOD") == "POST":
            address = environ.get("REMOTE_ADDR")
            until = self.until.get(address, 0)
            if until > time.time():
                with self.hold() as seconds:
                    time.sleep(max(0.0, min(until - time.time(), seconds)))
                return self._answer(start_response, max(1, math.ceil(until - time.time())))
            self.until.pop(address, None)
        return self.wsgi_app(environ, start_response)

    def _answer(self, start_response, retry_after: int):
        start_response("429 TOO MANY REQUESTS", [("Content-Type", "application/json"),
                                                 ("Content-Length", str(len(self.refused))),
                                                 ("Retry-After", str(retry_after))])
        return [self.refused]
