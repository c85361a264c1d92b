"""The analytics views and the analyst role, read through a real login granted ``analyst``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal

import psycopg2
import pytest
from psycopg2 import errors, sql

import migrations
from tests.helpers import ROOT, query, truncate_all
from tests.sites.books import BooksSite, generate_books, serve

WRITES = [
    "INSERT INTO analytics.crawl_runs (spider) VALUES ('books')",  # a simple view: auto-updatable
    "UPDATE analytics.crawl_runs SET status = 'failed'",
    "DELETE FROM analytics.crawl_runs",
    "UPDATE books SET price = 0",
    "DELETE FROM crawl_runs",
    "INSERT INTO api_users (username, password_hash) VALUES ('mallory', 'x')",
    "CREATE TABLE public.scratch (id int)",
    "CREATE TABLE analytics.scratch (id int)",
    "CREATE VIEW analytics.scratch AS SELECT 1",
    "SELECT * FROM merge_books(1, true)",
]


@pytest.fixture(scope="module")
def crawled(db_url):
    """Two real crawls: 40 books, then 3 of them at a new price."""
    conn = migrations.connect(db_url)
    truncate_all(conn)
    site = BooksSite(generate_books(40, seed=21))
    changed = {1: Decimal("5.00"), 2: Decimal("-3.00"), 3: Decimal("10.00")}
    with serve(site) as base_url:
        for step in ("first", "second"):
            if step == "second":
                for book_id, delta in changed.items():
                    site.books[book_id].price_excl_tax += delta
                    site.books[book_id].price_incl_tax += delta
            result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "books", "-a",
                                     f"start_url={base_url}index.html"], cwd=ROOT,
                                    env={**os.environ, "DATABASE_URL": db_url}, capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr[-3000:]
    yield conn, site, changed
    conn.close()


@pytest.fixture
def analyst(db_url, crawled):
    """A connection as a fresh LOGIN role that is granted analyst and nothing else."""
    owner, _, _ = crawled
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with owner.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE analyst").format(sql.Identifier(name)),
                    (password,))
    owner.commit()
    params = psycopg2.extensions.parse_dsn(db_url)
    conn = psycopg2.connect(**{**params, "user": name, "password": password})
    conn.autocommit = True
    yield conn
    conn.close()
    with owner.cursor() as cur:
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    owner.commit()


def analytics_views(conn) -> list[str]:
    return [r[0] for r in query(conn, "SELECT table_name FROM information_schema.views"
                                      " WHERE table_schema = 'analytics' ORDER BY 1")]


def test_analyst_reads_every_analytics_view(analyst, crawled):
    owner, site, changed = crawled
    views = analytics_views(owner)
    assert {"books", "price_history", "price_changes", "category_summary", "crawl_runs",
            "vitibrasil_observations", "vitibrasil_by_year"} <= set(views)
    with analyst.cursor() as cur:
        for view in views:
            cur.execute(sql.SQL("SELECT * FROM analytics.{}").format(sql.Identifier(view)))
            cur.fetchall()

        cur.execute("SELECT count(*), count(*) FILTER (WHERE listed) FROM analytics.books")
        assert cur.fetchone() == (40, 40)
        cur.execute("SELECT book_id, previous_price, price, price_change FROM analytics.price_changes ORDER BY 1")
        assert cur.fetchall() == [
            (i, site.books[i].price_incl_tax - d, site.books[i].price_incl_tax, d) for i, d in sorted(changed.items())]
        cur.execute("SELECT count(*) FROM analytics.price_history WHERE valid_to IS NULL")
        assert cur.fetchone() == (40,)
        cur.execute("SELECT sum(books), sum(units_in_stock) FROM analytics.category_summary")
        assert cur.fetchone() == (40, sum(b.availability for b in site.books.values()))
        cur.execute("SELECT status, items, inserted, updated FROM analytics.crawl_runs WHERE spider = 'books' ORDER BY id")
        assert cur.fetchall() == [("finished", 40, 40, 0), ("finished", 40, 0, 3)]


@pytest.mark.parametrize("statement", WRITES)
def test_analyst_writes_nothing(analyst, statement):
    with analyst.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
        cur.execute(statement)


def test_analyst_reads_no_table_outside_analytics(analyst, crawled):
    owner, _, _ = crawled
    with analyst.cursor() as cur:
        for table in ("api_users", "books", "crawl_runs", "staging.books"):
            with pytest.raises(errors.InsufficientPrivilege):
                cur.execute(f"SELECT * FROM {table}")
    # Whatever later migrations add: outside analytics, nothing is readable by analyst.
    readable = query(owner, """
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'analytics') AND n.nspname !~ '^pg_'
          AND has_table_privilege('analyst', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')""")
    assert readable == []


def test_every_analytics_view_and_column_is_commented(crawled):
    owner, _, _ = crawled
    missing = query(owner, """
        SELECT c.relname || coalesce('.' || a.attname, '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'analytics'
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE col_description(c.oid, a.attnum) IS NULL AND a.attnum IS NOT NULL
           OR obj_description(c.oid, 'pg_class') IS NULL""")
    assert missing == []
    assert query(owner, "SELECT obj_description('analytics'::regnamespace, 'pg_namespace') IS NOT NULL") == [(True,)]


def test_vitibrasil_views_long_and_by_year(analyst, crawled):
    owner, _, _ = crawled
    with owner, owner.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider, status, finished_at) VALUES ('vitibrasil', 'finished', now())"
                    " RETURNING id")
        run_id = cur.fetchone()[0]
        cur.execute("""
            INSERT INTO vitibrasil.observations (dataset, category, item, year, is_category, quantity, value_usd,
                                                 unit, first_seen_at, updated_at, removed_at, run_id)
            VALUES ('export_table_wine', NULL, 'Alemanha', 2022, false, 100, 250, 'kg', now(), now(), NULL, %(r)s),
                   ('export_table_wine', NULL, 'Alemanha', 2023, false, 120, NULL, 'kg', now(), now(), NULL, %(r)s),
                   ('export_sparkling', NULL, 'Alemanha', 2023, false, 10, 90, 'kg', now(), now(), NULL, %(r)s),
                   ('export_table_wine', NULL, 'Paraguai', 2023, false, 5, 7, 'kg', now(), now(), NULL, %(r)s),
                   ('export_table_wine', NULL, 'Gone', 2023, false, 1, 1, 'kg', now(), now(), now(), %(r)s),
                   ('production', 'VINHO DE MESA', 'VINHO DE MESA', 2023, true, 30, NULL, 'L', now(), now(), NULL, %(r)s),
                   ('production', 'VINHO DE MESA', 'Tinto', 2023, false, 30, NULL, 'L', now(), now(), NULL, %(r)s)
            """, {"r": run_id})
    with analyst.cursor() as cur:
        # docs/schema.md: export value per country per year
        cur.execute("""
            SELECT item AS country, year, sum(value_usd) AS value_usd, sum(quantity) AS quantity_kg
            FROM analytics.vitibrasil_observations
            WHERE kind = 'trade' AND dataset LIKE 'export_%'
            GROUP BY item, year
            ORDER BY year, value_usd DESC NULLS LAST""")
        assert cur.fetchall() == [("Alemanha", 2022, 250, 100), ("Alemanha", 2023, 90, 130), ("Paraguai", 2023, 7, 5)]
        cur.execute("SELECT item, is_category, unit, dataset_label FROM analytics.vitibrasil_observations"
                    " WHERE dataset = 'production' ORDER BY is_category")
        assert cur.fetchall() == [("Tinto", False, "L", "Produção de vinhos, sucos e derivados"),
                                  ("VINHO DE MESA", True, "L", "Produção de vinhos, sucos e derivados")]
        cur.execute("SELECT item, quantity_2022, value_usd_2022, quantity_2023, value_usd_2023, quantity_1970,"
                    " value_usd_2030 FROM analytics.vitibrasil_by_year WHERE dataset = 'export_table_wine' ORDER BY item")
        assert cur.fetchall() == [("Alemanha", 100, 250, 120, None, None, None), ("Paraguai", None, None, 5, 7, None, None)]
