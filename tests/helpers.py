"""Helpers the tests share (fixtures live in the conftest files).

Tests may use the crawler's and the API's code freely: the rule that the two
never import each other binds ``api/`` and ``crawler/``, not ``tests/``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg2
from psycopg2.extras import RealDictCursor

import migrations
from api import create_app
from crawler.store import CrawlStore
from crawler.vitibrasil.datasets import DATASETS, Dataset
from crawler.vitibrasil.observations import Observation, whole_units
from ml import registry
from ml.models import MODELS
from ml.train import train

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
SECRET = "test-secret-" + "x" * 60
PASSWORD = "correct horse battery"


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


def store_run(conn, spider: str, item_class, rows: list[dict], *, complete: bool = True) -> int:
    """Stage ``rows`` of ``item_class`` in a new run and merge it the way the crawl's pipeline does; the run id."""
    previous, conn.cursor_factory = conn.cursor_factory, RealDictCursor  # the store reads dict rows
    try:
        store = CrawlStore(conn, [item_class])
        run_id = store.start_run(spider, {})
        if rows:
            store.stage(item_class, rows)
        store.merge_and_finish(run_id, complete=complete, status="finished", reason="finished", duplicates=0)
    finally:
        conn.cursor_factory = previous
    return run_id


def dataset_for(opcao: str, subopcao: str | None) -> Dataset | None:
    """The Vitibrasil dataset a page request addresses; single-table tabs ignore subopcao."""
    for d in DATASETS.values():
        if d.opcao == opcao and (d.subopcao is None or d.subopcao == subopcao):
            return d
    return None


def as_shown_on_page(obs: Observation) -> Observation:
    """A Vitibrasil observation at page precision; only CSV decimals change."""
    return replace(obs, quantity=whole_units(obs.quantity), value_usd=whole_units(obs.value_usd))


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET, without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def make_app(db_url: str, **config):
    return create_app({"TESTING": True, "DATABASE_URL": db_url, "ADMIN_DATABASE_URL": db_url,
                       "JWT_SECRET_KEY": SECRET, **config})


def walk(client, headers: dict, **params) -> list[dict]:
    """Every item of a books listing, following next_cursor to the end."""
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/books", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        items += page["items"]
        pages += 1
        assert pages <= 1001, "the cursor walk does not end"
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == int(params.get("limit", 20))


def assert_error(response, status: int, *fields: str) -> dict:
    """A JSON error of the one shape, naming ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == status and body["error"] and body["message"]
    assert set(fields) <= set(body.get("errors", {})), body
    for name in fields:
        assert name in body["message"]
    return body


def cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # PostgreSQL's round()


def by_category(books) -> dict[str, list]:
    groups = defaultdict(list)
    for book in books.values():
        groups[book.category].append(book)
    return groups


PUBLIC = ["/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs"]
PROTECTED = ["/api/v1/books", "/api/v1/books/1", "/api/v1/books/1/history", "/api/v1/categories", "/api/v1/stats",
             "/api/v1/stats/categories", "/api/v1/crawls", "/api/v1/ml/features", "/api/v1/ml/training-data",
             "/api/v1/ml/models"]


def train_models(db_url: str, *names: str) -> list:
    """Train and register ``names`` in-process as ``python -m ml train`` does; their ml.train.Trained."""
    conn = migrations.connect(db_url)
    try:
        trained = [train(conn, MODELS[name]) for name in names]
        for t in trained:
            registry.register(conn, t)
        return trained
    finally:
        conn.close()
