"""Helpers every component's tests share (fixtures live in the conftest files; each component's
own helpers in tests/api/helpers.py, tests/crawler/helpers.py, tests/ml/helpers.py).

Tests may use the crawler's and the API's code freely: the rule that the two
never import each other binds ``api/`` and ``crawler/``, not ``tests/``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent


def with_dbname(url: str, dbname: str) -> str:
    """The same server as ``url``, database ``dbname`` (libpq lets a later dbname override)."""
    conn = psycopg2.connect(url)
    params = conn.get_dsn_parameters()
    conn.close()
    params["dbname"] = dbname
    params.pop("options", None)
    keys = ("host", "port", "user", "dbname")
    dsn = " ".join(f"{k}={params[k]}" for k in keys if params.get(k))
    if password := psycopg2.extensions.parse_dsn(url).get("password"):
        dsn += f" password={password}"
    return dsn


@contextmanager
def new_database(server_url: str, prefix: str):
    """The URL of a new, empty database on the server of ``server_url``; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(server_url, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


# Rows the migrations themselves seed: part of the schema, kept between tests.
REFERENCE_TABLES = {"public.schema_migrations", "vitibrasil.datasets"}


def truncate_all(conn) -> None:
    """Empty every table the migrations created, except the reference data they seed."""
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
              AND schemaname || '.' || tablename <> ALL (%s)
            """,
            (sorted(REFERENCE_TABLES),),
        )
        tables = [row[0] for row in cur.fetchall()]
        if tables:
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def query(conn, statement: str, params=()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    conn.commit()
    return rows


def records(conn, statement: str, params=()) -> list[dict]:
    """Rows as dicts keyed by column name."""
    with conn.cursor() as cur:
        cur.execute(statement, params)
        rows = [dict(zip([d.name for d in cur.description], row)) for row in cur.fetchall()]
    conn.commit()
    return rows


def last_run(conn) -> dict:
    """The newest crawl_runs row."""
    return records(conn, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET, without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()
