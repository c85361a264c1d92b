"""Read-only JSON API over the crawled data (docs/api.md): ``flask --app api run`` in development,
``gunicorn "api:create_app()"`` in production. It imports nothing from ``crawler/``: the two meet only in the
schema (``migrations/``). Its configuration comes from the environment and nowhere else (secrets included)."""

from __future__ import annotations

import logging
import os
import re
import secrets
from datetime import timedelta

from flask import Flask

from api import auth, books, brief, caching, crawls, db, docs, errors, limits, metrics, ml, paging, stats, vitibrasil

logger = logging.getLogger(__name__)

MAX_AGE_PREFIX = "HEALTH_MAX_AGE_"  # HEALTH_MAX_AGE_BOOKS=21600: the books data is stale after 6 hours
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)
RELAXED_ENVIRONMENTS = {"development", "testing"}


class ConfigurationError(RuntimeError):
    """The app refuses to start; the message says which variable and why."""


def from_environment() -> dict:
    """Every variable and its meaning: docs/api.md, "Configuration"."""
    env = os.environ
    return {
        "API_ENV": env.get("API_ENV", "production"),
        # None: the embedded database (migrations.database_url).
        "DATABASE_URL": env.get("API_DATABASE_URL") or env.get("DATABASE_URL"),
        # The CLI writes users: the owner's URL, not the read-only one the API may run under.
        "ADMIN_DATABASE_URL": env.get("DATABASE_URL"),
        "DB_POOL_MAX": int(env.get("API_DB_POOL_MAX", "4")),
        "DB_POOL_TIMEOUT": float(env.get("API_DB_POOL_TIMEOUT", "10")),
        "API_STATEMENT_TIMEOUT": float(env.get("API_STATEMENT_TIMEOUT", "2")),
        "API_WALK_ROWS": int(env.get("API_WALK_ROWS", "10000")),
        "API_SORT_ROWS": int(env.get("API_SORT_ROWS", "5000")),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY"),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=int(env.get("JWT_ACCESS_TOKEN_EXPIRES", "900"))),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=int(env.get("JWT_REFRESH_TOKEN_EXPIRES", "2592000"))),
        "MAX_CONTENT_LENGTH": int(env.get("API_MAX_BODY_BYTES", "16384")),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute; 100 per hour"),
        "LOGIN_USER_RATE_LIMIT": env.get("LOGIN_USER_RATE_LIMIT", "5 per minute; 30 per hour"),
        "LOGIN_HOLD_SECONDS": float(env.get("LOGIN_HOLD_SECONDS", "1")),
        "LOGIN_HOLD_THREADS": int(env.get("LOGIN_HOLD_THREADS", "40")),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or env.get("REDIS_URL") or "memory://",
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "HEALTH_MAX_AGE": int(env.get("HEALTH_MAX_AGE", "172800")),
        "HEALTH_MAX_AGES": {name[len(MAX_AGE_PREFIX):].lower(): int(value) for name, value in env.items()
                            if name.startswith(MAX_AGE_PREFIX) and re.fullmatch(r"\d+", value)},
        "METRICS_TOKEN": env.get("METRICS_TOKEN"),
    }


def is_relaxed(config: dict) -> bool:
    return bool(config.get("DEBUG") or config.get("TESTING")) or config.get("API_ENV") in RELAXED_ENVIRONMENTS


def check_secret(config: dict) -> None:
    """Refuse a missing or short JWT secret outside development and testing (``DEBUG``, ``TESTING`` or
    ``API_ENV=development|testing``), where a missing one is a random key per process."""
    secret = config.get("JWT_SECRET_KEY") or ""
    if len(secret.encode()) >= MIN_SECRET_BYTES:
        return
    if not is_relaxed(config):
        problem = "is not set" if not secret else f"is shorter than {MIN_SECRET_BYTES} bytes"
        raise ConfigurationError(
            f"JWT_SECRET_KEY {problem}; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if not secret:
        config["JWT_SECRET_KEY"] = secrets.token_urlsafe(48)
        logger.warning("JWT_SECRET_KEY not set: using a random key, tokens die with this process")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(from_environment())
    app.config.update(config or {})
    check_secret(app.config)
    app.json.sort_keys = False  # keep the schemas' field order
    # No module here relies on another's hooks: a request's path is api/operation.py.
    for module in (metrics, db, errors, auth, paging, caching, limits):
        module.init_app(app)
    for blueprint in (auth.bp, crawls.health_bp, books.bp, stats.categories, stats.bp, crawls.bp, ml.bp, vitibrasil.bp,
                      brief.bp, docs.bp, docs.assets, metrics.bp, docs.dashboard):
        app.register_blueprint(blueprint)
    return app
