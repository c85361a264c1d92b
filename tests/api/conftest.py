"""API fixtures: one catalogue of 1000 books loaded by the pipelines' SQL and kept
across tests until a test changes its tables, an app on the test database, and tokens."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask_jwt_extended import create_access_token
from psycopg2 import sql
from psycopg2.extensions import make_dsn
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

import migrations
from api.db import close_pool
from tests.api.fill import load_books
from tests.api.helpers import PASSWORD, make_app
from tests.sites.books import generate_books

_catalogue = {}


@dataclass
class Catalogue:
    books: dict  # id -> SiteBook as the database now holds it
    removed: set[int]  # absent from the second (complete) run
    changed: set[int]  # price and stock changed by the second run
    runs: list[int]

    @property
    def listed(self) -> dict:
        return {i: b for i, b in self.books.items() if i not in self.removed}


def _data_versions(conn) -> list[tuple]:
    """The versions a merge (books) and a run (runs) move, as the API's caches key on them: versions
    come from one sequence and are never reused, and emptying the tables empties data_versions, so
    any crawl, merge or truncation by another test changes this."""
    with conn.cursor() as cur:
        cur.execute("SELECT scope, version FROM data_versions WHERE scope IN ('books', 'runs') ORDER BY scope")
        rows = cur.fetchall()
    conn.commit()
    return rows


@pytest.fixture
def catalogue(db_url) -> Catalogue:
    """1000 generated books crawled twice: the second run changes the price and stock
    of every 20th book and no longer sees every 25th (so those are removed)."""
    conn = migrations.connect(db_url)
    if not _catalogue or _data_versions(conn) != _catalogue["data_versions"]:
        with conn, conn.cursor() as cur:  # the crawl's tables only: users made by fixtures stay
            cur.execute("TRUNCATE crawl_runs, categories, books, book_history, rejects, staging.books"
                        " RESTART IDENTITY CASCADE")
        books = generate_books(1000)
        books[-7] = dataclasses.replace(books[-7], title="100% Pure_Joy \\ Back")  # LIKE metacharacters
        first = load_books(conn, books)
        changed = {b.id for b in books if b.id % 20 == 0}
        removed = {b.id for b in books if b.id % 25 == 0}
        current = [dataclasses.replace(b, price_incl_tax=b.price_incl_tax + Decimal("1.01"),
                                       price_excl_tax=b.price_excl_tax + Decimal("1.01"),
                                       availability=(b.availability + 3) % 23) if b.id in changed else b
                   for b in books]
        second = load_books(conn, [b for b in current if b.id not in removed])
        _catalogue["value"] = Catalogue({b.id: b for b in current}, removed, changed - removed, [first, second])
        _catalogue["data_versions"] = _data_versions(conn)
    conn.close()
    return _catalogue["value"]


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    yield app
    close_pool(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def reader_url(db_url):
    """A LOGIN role granted api_reader, as docs/api.md tells operators to create; dropped afterwards."""
    role, password = f"api_login_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = migrations.connect(db_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE api_reader").format(sql.Identifier(role)),
                    (password,))
    yield make_dsn(db_url, user=role, password=password)
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    admin.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return generate_password_hash(PASSWORD)


@pytest.fixture
def user(db_url, password_hash) -> dict:
    """An active user "reader" (re-created if a test emptied or disabled it)."""
    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES ('reader', %s)"
                    " ON CONFLICT (username) DO UPDATE SET active = true, password_hash = EXCLUDED.password_hash"
                    " RETURNING id", (password_hash,))
        user_id = cur.fetchone()[0]
    conn.close()
    return {"id": user_id, "username": "reader", "password": PASSWORD}


@pytest.fixture
def auth(app, user) -> dict:
    """Headers with a valid access token for ``user``."""
    with app.app_context():
        return {"Authorization": f"Bearer {create_access_token(str(user['id']))}"}


@pytest.fixture
def live_api(app):
    """``app`` served over real HTTP on 127.0.0.1 (werkzeug, threaded): its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-api", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
