"""Configuration from the environment; secrets come from nowhere else.

Development (``FLASK_DEBUG=1``, ``flask run --debug``, ``API_ENV=development``)
and testing (``TESTING=True`` or ``API_ENV=testing``) may run without
``JWT_SECRET_KEY``: a random per-process key is used and every restart
invalidates tokens. Anywhere else a missing or short key stops the app.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

logger = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)
RELAXED_ENVIRONMENTS = {"development", "testing"}


class ConfigurationError(RuntimeError):
    """The app refuses to start; the message says which variable and why."""


def from_environment() -> dict:
    env = os.environ
    return {
        "API_ENV": env.get("API_ENV", "production"),
        # None: resolved on first use (API_DATABASE_URL, DATABASE_URL, else embedded).
        "DATABASE_URL": env.get("API_DATABASE_URL") or env.get("DATABASE_URL"),
        # The CLI writes users: the owner's URL, not the read-only one the API may run under.
        "ADMIN_DATABASE_URL": env.get("DATABASE_URL"),
        "DB_POOL_MAX": int(env.get("API_DB_POOL_MAX", "10")),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY"),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=int(env.get("JWT_ACCESS_TOKEN_EXPIRES", "900"))),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=int(env.get("JWT_REFRESH_TOKEN_EXPIRES", "2592000"))),
        # Bearer token of GET /metrics (api/metrics.py); unset, /metrics is off.
        "METRICS_TOKEN": env.get("METRICS_TOKEN"),
    }


def is_relaxed(config: dict) -> bool:
    return bool(config.get("DEBUG") or config.get("TESTING")) or config.get("API_ENV") in RELAXED_ENVIRONMENTS


def check_secret(config: dict) -> None:
    """Refuse a missing or short JWT secret outside development and testing."""
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
