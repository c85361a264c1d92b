"""One JSON error shape for every failure, Flask's own 404/405 and crashes included:

    {"status": 400, "error": "bad_request", "message": "...", "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging

import psycopg2
from flask import jsonify, request
from psycopg2.pool import PoolError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from api.schemas.common import ErrorSchema
from migrations import DatabaseUnavailable

logger = logging.getLogger(__name__)
_error_schema = ErrorSchema()


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict | None = None, *,
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.code, self.headers = status, message, errors, code, headers


def error_response(status: int, message: str, errors: dict | None = None, *,
                   code: str | None = None, headers: dict | None = None):
    body = {"status": status, "error": code or status_code(status), "message": message}
    response = jsonify(_error_schema.dump({**body, "errors": errors} if errors else body))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def status_code(status: int) -> str:
    """404 -> "not_found": the HTTP reason phrase as an identifier."""
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_")


def init_app(app) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.errors, code=exc.code, headers=exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Keep Allow on 405; werkzeug's other headers describe its HTML page.
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else None
        return error_response(exc.code or 500, exc.description or exc.name, headers=headers)

    @app.errorhandler(psycopg2.errors.QueryCanceled)
    def too_slow(exc):
        # The query's shape (which parameters, which sort), not its values: what to look for in the plans.
        shape = "&".join(sorted(k if k != "sort" else f"sort={v}" for k, v in request.args.items()))
        logger.warning("statement timeout: %s %s?%s", request.method, request.path, shape)
        return error_response(503, "the query took too long; retry later or narrow it", headers={"Retry-After": "2"})

    @app.errorhandler(DatabaseUnavailable)
    @app.errorhandler(psycopg2.OperationalError)
    def database_down(exc):
        logger.error("database unavailable: %s", exc)
        return error_response(503, "database unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(PoolError)
    def pool_exhausted(exc):
        return error_response(503, "too many concurrent requests", headers={"Retry-After": "1"})

    @app.errorhandler(psycopg2.errors.UndefinedTable)
    def not_migrated(exc):
        logger.error("schema out of date: %s", exc)
        return error_response(503, "database schema not migrated: run python -m migrations")

    @app.errorhandler(Exception)
    def crash(exc):
        logger.exception("unhandled error")
        return error_response(500, "internal server error")
