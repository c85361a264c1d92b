"""Shared fixtures: a real PostgreSQL database per test session, and real crawls.

``TEST_DATABASE_URL`` names the server to use; without it the embedded server
(pgserver, under .data/) is used. Either way a fresh database is created for
the session, migrated, and dropped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

import migrations

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"


def _with_dbname(url: str, dbname: str) -> str:
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


@pytest.fixture(scope="session")
def db_url():
    """DSN of a fresh, migrated database for this test session."""
    server_url = os.environ.get("TEST_DATABASE_URL") or migrations.embedded_url()
    name = f"test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_dbname(server_url, name)
    conn = migrations.connect(url)
    migrations.migrate(conn)
    conn.close()
    yield url
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def db(db_url):
    """A connection to the session database, emptied of data before the test."""
    conn = migrations.connect(db_url)
    truncate_all(conn)
    yield conn
    conn.close()


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


@pytest.fixture
def crawl(db_url, tmp_path):
    """Run ``scrapy crawl`` in a child process against the test database."""

    def run(spider: str, *, args: dict | None = None, settings: dict | None = None,
            env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "scrapy", "crawl", spider]
        for key, value in (args or {}).items():
            command += ["-a", f"{key}={value}"]
        for key, value in {"LOG_LEVEL": "INFO", **(settings or {})}.items():
            command += ["-s", f"{key}={value}"]
        environment = {**os.environ, "DATABASE_URL": db_url, **(env or {})}
        result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
        # pytest's warning filter cannot reach a child process: check its log instead.
        assert "ScrapyDeprecationWarning" not in result.stderr, result.stderr
        return result

    return run
