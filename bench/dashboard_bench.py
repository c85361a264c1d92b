"""The dashboard's first load at 100k and 1M books, through real HTTP, beside the framework floor.

    python bench/dashboard_bench.py --books 100000 1000000 [--repeat 20]

For each size a fresh database is filled through the schema as bench/http_bench.py fills it
(ONE merge_books of generated books, 4% then marked removed), plus a second merge that changes
the price and stock of every 20th book, so the history has changes. Then three gunicorn
servers with 2 workers each serve it: the project (``api:create_app()``), the same without its
response cache (every answer runs its SQL: the uncached request is the one that counts), and
the floor (bench/floor_app.py: token check, one ``SELECT … LIMIT 20``, jsonify).

A first load is what the books page asks the API, as the browser does: ``/categories``, then
``/stats/books`` and ``/stats/books/changes`` at once; its time is the wall time of the three.
Rows: uncached; cached (the project's second visit: answers replayed from the response
cache); revalidated (If-None-Match: 304s); the floor's one request; and, for scale, the
charts' aggregates computed by a scan of ``books`` instead of from the summary (SQL alone).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from bench.http_bench import Server, token_for  # noqa: E402
from tests.api.fill import filled_database  # noqa: E402

FIRST = "/api/v1/categories"
TOGETHER = ("/api/v1/stats/books", "/api/v1/stats/books/changes")
# The books page's charts computed from books itself, as they would be without the summary.
SCAN = """
SELECT category_id, rating, floor(price / 5), availability > 0, count(*), sum(availability), sum(price)
FROM books WHERE removed_at IS NULL GROUP BY 1, 2, 3, 4
"""
CHANGES = """
INSERT INTO staging.books (run_id, id, upc, title, category, price, price_excl_tax, price_incl_tax, tax,
                           availability, rating, review_count, description, image_url, url, scraped_at)
SELECT %(run)s, b.id, b.upc, b.title, c.name, b.price + 1, b.price_excl_tax + 1, b.price_incl_tax + 1, b.tax,
       (b.availability + 3) %% 23, b.rating, b.review_count, b.description, b.image_url, b.url, now()
FROM books b JOIN categories c ON c.id = b.category_id WHERE b.id %% 20 = 0 AND b.removed_at IS NULL;
"""


def change_some(url: str) -> None:
    """A second, partial run that changes the price and stock of every 20th listed book."""
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider) VALUES ('books') RETURNING id")
        run = cur.fetchone()[0]
        cur.execute(CHANGES, {"run": run})
        cur.execute("SELECT * FROM merge_books(%s, false)", (run,))
        cur.execute("UPDATE crawl_runs SET status = 'finished', finish_reason = 'finished', finished_at = now(),"
                    " complete = false WHERE id = %s", (run,))
    conn.close()


def first_load(session: requests.Session, pool: ThreadPoolExecutor, base: str, headers: dict,
               etags: dict | None = None) -> float:
    """Wall time (ms) of the books page's API calls; ``etags``: revalidate with them (304 expected)."""
    def get(path: str) -> requests.Response:
        sent = {**headers, **({"If-None-Match": etags[path]} if etags else {})}
        response = session.get(base + path, headers=sent)
        assert response.status_code == (304 if etags else 200), (path, response.status_code, response.text[:200])
        return response

    start = time.perf_counter()
    get(FIRST)
    list(pool.map(get, TOGETHER))
    return (time.perf_counter() - start) * 1000


def etags_of(session: requests.Session, base: str, headers: dict) -> dict:
    return {path: session.get(base + path, headers=headers).headers["ETag"] for path in (FIRST, *TOGETHER)}


def scan_time(url: str) -> float:
    conn = migrations.connect(url)
    with conn.cursor() as cur:
        start = time.perf_counter()
        cur.execute(SCAN)
        cur.fetchall()
        elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    return elapsed


def summarize(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def bench(url: str, books: int, repeat: int) -> list[tuple]:
    secret = uuid.uuid4().hex * 2
    headers = {"Authorization": f"Bearer {token_for(url, secret)}"}
    env = {"DATABASE_URL": url, "JWT_SECRET_KEY": secret}
    rows = {"uncached": [], "cached": [], "revalidated": [], "floor": [], "scan": []}
    with Server("api:create_app()", env) as project, \
            Server("api:create_app({'API_RESPONSE_CACHE_BYTES': 0})", env) as uncached, \
            Server("bench.floor_app:create_app()", env) as floor, \
            requests.Session() as session, ThreadPoolExecutor(2) as pool:
        bases = {name: f"http://127.0.0.1:{server.port}" for name, server in
                 (("project", project), ("uncached", uncached), ("floor", floor))}
        for base in bases.values():  # each worker's connection pool and first import, not measured
            session.get(base + "/api/v1/books?limit=1", headers=headers)
        first_load(session, pool, bases["project"], headers)
        etags = etags_of(session, bases["project"], headers)
        for _ in range(repeat):  # the cases take turns: a busy machine slows each alike
            rows["uncached"].append(first_load(session, pool, bases["uncached"], headers))
            rows["cached"].append(first_load(session, pool, bases["project"], headers))
            rows["revalidated"].append(first_load(session, pool, bases["project"], headers, etags))
            start = time.perf_counter()
            assert session.get(bases["floor"] + "/api/v1/books", headers=headers).status_code == 200
            rows["floor"].append((time.perf_counter() - start) * 1000)
            rows["scan"].append(scan_time(url))
    floor_median = statistics.median(rows["floor"])
    return [(books, case, *summarize(times), summarize(times)[0] / floor_median) for case, times in rows.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="+", default=[100_000])
    parser.add_argument("--server-url", help="server for the generated databases (default: the embedded one)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    server_url = args.server_url or migrations.embedded_url()
    rows = []
    for books in args.books:
        with filled_database(server_url, books, "bench_dashboard") as url:
            change_some(url)
            rows += bench(url, books, args.repeat)
        print_table(rows)
    return 0


def print_table(rows) -> None:
    print("\n| books | first load (books page) | median ms | p95 ms | x floor request |")
    print("|---:|---|---:|---:|---:|")
    for books, case, median, p95, ratio in rows:
        print(f"| {books:,} | {case} | {median:.1f} | {p95:.1f} | {ratio:.1f}x |")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
