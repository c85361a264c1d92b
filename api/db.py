"""One psycopg2 pool per app, made on first use (after gunicorn forks); one connection per request, in
``flask.g``, returned on teardown. A request waits up to ``API_DB_POOL_TIMEOUT`` for a free connection (a
process may have more threads than connections), then gets a 503. Sessions are read-only, REPEATABLE READ and
under ``API_STATEMENT_TIMEOUT``: the token's user and the data versions are read in autocommit, then the view's
reads share one snapshot (api/operation.py), so a page and its count agree and a cached answer costs one
statement."""

from __future__ import annotations

import threading

import psycopg2
from flask import current_app, g
from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_UNKNOWN, make_dsn, parse_dsn
from psycopg2.pool import ThreadedConnectionPool

import migrations
from migrations import DatabaseUnavailable

_POOL, _FREE = "api.db_pool", "api.db_pool_free"
_pool_lock = threading.Lock()
# A request's statements are small and many run at once: no parallel workers, no JIT compilation.
SESSION_DEFAULTS = ("-c default_transaction_read_only=on -c default_transaction_isolation=repeatable\\ read"
                    " -c max_parallel_workers_per_gather=0 -c jit=off")


def init_app(app) -> None:
    app.teardown_appcontext(_return_connection)


def _pool(app) -> ThreadedConnectionPool:
    with _pool_lock:
        if _POOL not in app.extensions:
            url = migrations.database_url(app.config["DATABASE_URL"])
            # The statement timeout is the session's too, so it costs a request nothing (api/errors.py: a 503).
            timeout = f"-c statement_timeout={max(1, round(app.config['API_STATEMENT_TIMEOUT'] * 1000))}"
            options = " ".join(filter(None, (parse_dsn(url).get("options"), SESSION_DEFAULTS, timeout)))
            pool = ThreadedConnectionPool(1, app.config["DB_POOL_MAX"], make_dsn(url, options=options),
                                          connect_timeout=5, application_name="books-api")
            # psycopg2 closes returned connections beyond minconn, and opens minconn of them up
            # front: start with one, then keep every connection made, up to the maximum.
            pool.minconn = pool.maxconn
            app.extensions[_POOL], app.extensions[_FREE] = pool, threading.BoundedSemaphore(pool.maxconn)
        return app.extensions[_POOL]


def close_pool(app) -> None:
    """Close every pooled connection (tests and scripts that make many apps)."""
    with _pool_lock:
        app.extensions.pop(_FREE, None)
        if pool := app.extensions.pop(_POOL, None):
            pool.closeall()


def pool_usage(app) -> dict | None:
    """This process's connections: in use, idle, and the most it may open; None before the first."""
    pool = app.extensions.get(_POOL)
    if pool is None:
        return None
    # psycopg2's pools keep checked-out connections in _used and idle ones in _pool (no public counts).
    return {"in_use": len(pool._used), "idle": len(pool._pool), "max": pool.maxconn}


def get_db():
    """The request's connection: in autocommit until ``snapshot()``, then in one transaction."""
    if "db" not in g:
        app = current_app._get_current_object()
        pool, free, conn = _pool(app), app.extensions[_FREE], None
        if not free.acquire(timeout=app.config["DB_POOL_TIMEOUT"]):
            raise DatabaseUnavailable(f"all {pool.maxconn} database connections of this process stayed busy")
        try:
            conn = pool.getconn()
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(" ".join(str(exc).split())) from exc
        finally:
            if conn is None:
                free.release()
        conn.autocommit = "db_snapshot" not in g
        g.db = conn
    return g.db


def snapshot(versions: tuple = ()) -> None:
    """From here on the request's reads share one read-only REPEATABLE READ transaction, whose
    answers are those of the data ``versions`` ((scope, version), ...) read before it."""
    g.db_snapshot = versions
    if "db" in g and g.db.autocommit:
        g.db.autocommit = False


def snapshot_versions() -> tuple:
    """The data versions the request's snapshot reflects; () when it declared none."""
    return g.get("db_snapshot", ())


def _return_connection(_exc) -> None:
    conn = g.pop("db", None)
    if conn is None:
        return
    broken = bool(conn.closed) or conn.info.transaction_status == TRANSACTION_STATUS_UNKNOWN
    if not broken and conn.info.transaction_status != TRANSACTION_STATUS_IDLE:
        try:
            conn.rollback()  # end the read transaction
        except psycopg2.Error:
            broken = True  # server went away mid-request: do not pool a dead connection
    try:
        current_app.extensions[_POOL].putconn(conn, close=broken)
    finally:
        current_app.extensions[_FREE].release()


def fetch_all(statement: str, params=()) -> list[dict]:
    # Plain tuples zipped into dicts: a tenth of the time RealDictCursor takes per row.
    with get_db().cursor() as cur:
        cur.execute(statement, params)
        names = [column.name for column in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def fetch_one(statement: str, params=()) -> dict | None:
    rows = fetch_all(statement, params)
    return rows[0] if rows else None
