"""migrations/0002_api.sql: the read-only role runs the whole API and cannot write."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extensions import make_dsn

import migrations
from api.db import close_pool
from tests.api.helpers import PASSWORD, PROTECTED, PUBLIC, make_app, walk
from tests.helpers import query


def test_role_is_nologin_and_read_only_everywhere(db):
    [(can_login,)] = query(db, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'api_reader'")
    assert can_login is False
    rows = query(db, """
        SELECT format('%%I.%%I', n.nspname, c.relname), privilege
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS privilege
        WHERE c.relkind IN ('r', 'v', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND has_table_privilege('api_reader', c.oid, privilege)""")
    assert rows == []
    readable = {r[0] for r in query(db, """
        SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND has_table_privilege('api_reader', c.oid, 'SELECT')""")}
    assert readable == {"api.books", "api.categories", "api.training_data", "public.book_history",
                        "public.crawl_runs", "public.api_users", "public.schema_migrations",
                        "api.vitibrasil_datasets", "api.vitibrasil_observations",  # 0007_vitibrasil_api
                        "public.crawl_freshness",  # 0008_crawl_integrity
                        "api.book_stats", "api.category_counts", "api.data_versions",  # 0009_data_version
                        "ml.book_price_features", "ml.model_versions", "ml.trainings",  # 0010_ml_models
                        "ml.wine_trade", "ml.brazil_volumes", "ml.version_horizons",  # 0015_wine_forecasts
                        "api.book_cube", "api.book_changes", "api.vitibrasil_series",
                        "api.vitibrasil_totals",  # 0017_dashboard
                        "api.book_rows"}  # 0018_book_rows


def test_the_whole_api_runs_under_the_role(reader_url, catalogue, user):
    app = make_app(reader_url)
    client = app.test_client()
    tokens = client.post("/api/v1/auth/login", json={"username": "reader", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/refresh",
                       headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).status_code == 200
    for path in PUBLIC + PROTECTED:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        response.close()
    assert len(walk(client, headers, limit=100, include_removed="true", sort="-title")) == 1000
    assert client.get("/api/v1/ml/training-data?format=csv", headers=headers).get_data(as_text=True).count("\n") == 961
    assert client.get("/api/v1/health").get_json()["schema_version"]
    close_pool(app)


WRITES = [
    "INSERT INTO books SELECT * FROM books LIMIT 1",
    "UPDATE books SET price = 0",
    "DELETE FROM books",
    "TRUNCATE books",
    "INSERT INTO api_users (username, password_hash) VALUES ('intruder', 'x')",
    "UPDATE api_users SET active = true",
    "DELETE FROM api_users",
    "UPDATE crawl_runs SET status = 'failed'",
    "DELETE FROM book_history",
    "INSERT INTO categories (name) VALUES ('Intrusion')",
    "INSERT INTO staging.books (run_id, scraped_at) VALUES (1, now())",
    "SELECT * FROM staging.books",
    "SELECT * FROM rejects",
    "SELECT * FROM merge_books(1, true)",
    "CREATE TABLE public.intruder (id int)",
    "CREATE VIEW api.intruder AS SELECT 1",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_role_cannot_write(reader_url, catalogue, statement):
    conn = psycopg2.connect(reader_url)  # a plain read-write session: only the privileges stop it
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        with conn.cursor() as cur:
            cur.execute(statement)
    conn.close()


def test_cli_under_the_role_reports_the_refusal(reader_url, db, user):
    app = make_app(reader_url, ADMIN_DATABASE_URL=reader_url)
    result = app.test_cli_runner().invoke(args=["create-user", "intruder"], input="long enough\n")
    assert result.exit_code != 0
    assert query(db, "SELECT count(*) FROM api_users WHERE username = 'intruder'") == [(0,)]
    close_pool(app)


def test_migration_is_repeatable_on_another_database(db_url):
    """The role already exists (cluster-wide): a second database migrates and gets its own grants."""
    admin = migrations.connect(db_url)
    admin.autocommit = True
    name = f"test_second_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        conn = migrations.connect(make_dsn(db_url, dbname=name))
        assert "0002_api" in migrations.migrate(conn)
        assert query(conn, "SELECT has_table_privilege('api_reader', 'api.books', 'SELECT'),"
                           " has_database_privilege('api_reader', current_database(), 'CONNECT')") == [(True, True)]
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()

