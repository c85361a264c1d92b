"""Time the books API: first vs deep cursor pages, filters, the count.

    python bench/api_bench.py --books 10000 100000 [--repeat 20]
    python bench/api_bench.py --database-url postgresql://.../books   # a crawled database, as is

For each size a fresh database is filled the way the crawler's pipelines fill it
(a crawl_runs row, staging.books, ONE merge_books) from generated books, then
requests go through the real app (Flask test client: app + SQL, no HTTP server).
A deep page is the last page of a full cursor walk; keyset pagination should
make it cost what the first page costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from psycopg2 import sql
from psycopg2.extensions import make_dsn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from api import create_app  # noqa: E402
from api.db import close_pool  # noqa: E402
from tests.api.fill import load_books  # noqa: E402
from tests.sites.books import generate_books  # noqa: E402

SORTS = ["id", "price", "-title", "rating", "-availability"]
FILTERS = {
    "category=poetry": {"category": "poetry"},
    "min_price=20&max_price=30": {"min_price": "20", "max_price": "30"},
    "q=garden": {"q": "garden"},
    "in_stock&min_rating=4&sort=-price": {"in_stock": "true", "min_rating": "4", "sort": "-price"},
    "include_removed&sort=title": {"include_removed": "true", "sort": "title"},
}


def timed(client, headers, params: dict, repeat: int) -> tuple[list[float], dict]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get("/api/v1/books", query_string=params, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.get_json()
    return times, response.get_json()


def row(label: str, times: list[float], extra: str = "") -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{label:<44} {statistics.median(times):>9.2f} {p95:>9.2f}  {extra}"


def count_only(url: str, repeat: int) -> list[float]:
    """The count query alone, as the list endpoint runs it for an unfiltered page."""
    conn = migrations.connect(url)
    times = []
    with conn.cursor() as cur:
        for _ in range(repeat):
            start = time.perf_counter()
            cur.execute("SELECT count(*) FROM api.books WHERE removed_at IS NULL")
            cur.fetchone()
            times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def bench(url: str, repeat: int, limit: int) -> None:
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES (%s, 'bench: no password')"
                    " RETURNING id", (f"bench-{uuid.uuid4().hex[:8]}",))
        user_id = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM books")
        books = cur.fetchone()[0]
    app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": uuid.uuid4().hex * 2})
    with app.app_context():
        from flask_jwt_extended import create_access_token

        headers = {"Authorization": f"Bearer {create_access_token(str(user_id))}"}
    client = app.test_client()
    print(f"\n{books} books, limit={limit}, {repeat} requests per line (ms)")
    print(f"{'case':<44} {'median':>9} {'p95':>9}  notes")
    for sort in SORTS:
        first, page = timed(client, headers, {"sort": sort, "limit": limit}, repeat)
        print(row(f"sort={sort} first page", first, f"total={page['total']}"))
        cursor, pages, walk_start, deep_cursor = page["next_cursor"], 1, time.perf_counter(), None
        while cursor:  # walk to the end; remember the cursor of the last page
            deep_cursor = cursor
            cursor = client.get("/api/v1/books", query_string={"sort": sort, "limit": limit, "cursor": cursor},
                                headers=headers).get_json()["next_cursor"]
            pages += 1
        walk = (time.perf_counter() - walk_start) * 1000
        if deep_cursor:
            deep, _ = timed(client, headers, {"sort": sort, "limit": limit, "cursor": deep_cursor}, repeat)
            print(row(f"sort={sort} last page (page {pages})", deep, f"full walk {walk / pages:.2f} ms/page"))
    for label, params in FILTERS.items():
        times, page = timed(client, headers, {**params, "limit": limit}, repeat)
        print(row(label, times, f"total={page['total']}"))
    print(row("count(*) alone (SQL, listed books)", count_only(url, repeat)))
    close_pool(app)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM api_users WHERE id = %s", (user_id,))
    conn.close()


def new_database(server_url: str, prefix: str) -> tuple[str, str]:
    """A new, migrated database on the server: its URL and name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = migrations.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    url = make_dsn(server_url, dbname=name)
    conn = migrations.connect(url)
    migrations.migrate(conn)
    conn.close()
    return url, name


def fresh_database(server_url: str, books: int) -> tuple[str, str]:
    url, name = new_database(server_url, "bench_api")
    conn = migrations.connect(url)
    start = time.perf_counter()
    generated = generate_books(books)
    load_books(conn, generated)
    # A second, complete run that misses 4%: removed books exist, as after real crawls.
    load_books(conn, [b for b in generated if b.id % 25])
    with conn, conn.cursor() as cur:
        cur.execute("ANALYZE")
    conn.close()
    print(f"filled {name} with {books} books in {time.perf_counter() - start:.1f} s")
    return url, name


def drop_database(server_url: str, name: str) -> None:
    admin = migrations.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="+", default=[10_000], help="sizes to generate")
    parser.add_argument("--database-url", help="benchmark this (crawled) database as is instead")
    parser.add_argument("--server-url", help="server for the generated databases (default: the embedded one)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    if args.database_url:
        bench(args.database_url, args.repeat, args.limit)
        return 0
    server_url = args.server_url or migrations.embedded_url()
    for books in args.books:
        url, name = fresh_database(server_url, books)
        try:
            bench(url, args.repeat, args.limit)
        finally:
            drop_database(server_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
