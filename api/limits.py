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

The client address is the TCP peer, or with ``TRUSTED_PROXIES=N`` the address
the N-th proxy from us saw (werkzeug's ProxyFix): Heroku's router is one proxy
and appends the client it saw to ``X-Forwarded-For``, so anything a client puts
there itself is ignored. Never trust more proxies than there are.
"""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

LOGIN_ENDPOINT = "auth.login"


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered: it wraps the login view."""
    config = app.config
    if config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["TRUSTED_PROXIES"], x_proto=0, x_host=0)
    limiter = Limiter(get_remote_address, app=app, storage_uri=config["RATELIMIT_STORAGE_URI"],
                      strategy="moving-window", headers_enabled=True, in_memory_fallback_enabled=True,
                      key_prefix=config.get("RATELIMIT_KEY_PREFIX", "books-api"), retry_after="delta-seconds")
    login = app.view_functions[LOGIN_ENDPOINT]
    login = limiter.limit(lambda: config["LOGIN_RATE_LIMIT"], scope="address",
                          error_message="too many login attempts from this address")(login)
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
