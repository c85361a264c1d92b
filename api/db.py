"""One psycopg2 pool per app, created on first use (after gunicorn forks), and
one connection per request in ``flask.g``, handed back on teardown.

Request connections are read-only REPEATABLE READ transactions: a list page
and its count see the same snapshot, and no code path can write.
"""

from __future__ import annotations

import threading

import psycopg2
from flask import current_app, g
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ, TRANSACTION_STATUS_UNKNOWN
from psycopg2.extras import RealDictCursor
from psycopg2.pool import ThreadedConnectionPool

from api import settings
from migrations import DatabaseUnavailable

_POOL = "api.db_pool"
_pool_lock = threading.Lock()


def init_app(app) -> None:
    app.teardown_appcontext(_return_connection)


def _pool(app) -> ThreadedConnectionPool:
    with _pool_lock:
        if _POOL not in app.extensions:
            pool = ThreadedConnectionPool(1, app.config["DB_POOL_MAX"], settings.database_url(app.config),
                                          connect_timeout=5,
                                          application_name="books-api")
            # psycopg2 closes returned connections beyond minconn, and opens minconn of them up
            # front: start with one, then keep every connection made, up to the maximum.
            pool.minconn = pool.maxconn
            app.extensions[_POOL] = pool
        return app.extensions[_POOL]


def close_pool(app) -> None:
    """Close every pooled connection (tests and scripts that make many apps)."""
    with _pool_lock:
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
    if "db" not in g:
        try:
            conn = _pool(current_app._get_current_object()).getconn()
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(" ".join(str(exc).split())) from exc
        conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        g.db = conn
    return g.db


def _return_connection(_exc) -> None:
    conn = g.pop("db", None)
    if conn is None:
        return
    broken = bool(conn.closed) or conn.info.transaction_status == TRANSACTION_STATUS_UNKNOWN
    if not broken:
        try:
            conn.rollback()  # end the read transaction
        except psycopg2.Error:
            broken = True  # server went away mid-request: do not pool a dead connection
    current_app.extensions[_POOL].putconn(conn, close=broken)


def fetch_all(statement: str, params=()) -> list[dict]:
    with get_db().cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def fetch_one(statement: str, params=()) -> dict | None:
    with get_db().cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(statement, params)
        return cur.fetchone()
