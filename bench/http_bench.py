"""The API through real HTTP at 1k, 100k and 1M books, beside the framework floor (issue 12's table).

    python bench/http_bench.py --books 1000 100000 1000000 [--seconds 15] [--connections 8]

For each size a fresh database is filled through the schema (a crawl_runs row,
generated rows in staging.books, ONE merge_books, then 4% of the books marked
removed), then three gunicorn servers with 2 workers each serve it: the
project (``api:create_app()``, with and without its response cache) and the floor (bench/floor_app.py: same token
check, one SELECT … LIMIT 20 on api.books, jsonify). ``wrk`` (apt-get install
wrk) sends varied list queries — category filters, price windows, rating
floors, title search, every sort, limits 10-50 — from a fixed set of
``--queries`` distinct ones. The three servers run at once and the cases
take turns, a warm-up round (``--warmup`` seconds) then ``--rounds`` measured ones (medians shown),
so the load of a shared machine falls on all of them alike. Rows:

- ``varied``: the project on the varied queries (after the warm-up its workers
  answer repeats from the version-keyed response cache);
- ``varied, no response cache``: the same with the response cache off, so
  every request runs its SQL (counts stay cached per data version);
- ``limit=20``: ``GET /api/v1/books?limit=20`` only;
- ``/stats``, ``/vitibrasil/datasets``: the aggregate endpoints;
- ``floor``: the floor app on the same request mix.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from psycopg2 import sql
from psycopg2.extensions import make_dsn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from tests.cluster import free_port  # noqa: E402

CATEGORIES = ["Travel", "Mystery", "Historical Fiction", "Sequential Art", "Classics", "Philosophy", "Romance",
              "Womens Fiction", "Fiction", "Childrens", "Religion", "Nonfiction", "Music", "Default",
              "Science Fiction", "Sports and Games", "Add a comment", "Fantasy", "New Adult", "Young Adult",
              "Science", "Poetry", "Paranormal", "Art", "Psychology", "Autobiography", "Parenting", "Adult Fiction",
              "Humor", "Horror", "History", "Food and Drink", "Christian Fiction", "Business", "Biography",
              "Thriller", "Contemporary", "Spirituality", "Academic", "Self Help", "Historical", "Christian",
              "Suspense", "Short Stories", "Novels", "Health", "Politics", "Cultural", "Erotica", "Crime"]
ADJECTIVES = ["Silent", "Crimson", "Little", "Hidden", "Broken", "Golden", "Last", "Wild", "Secret", "Midnight"]
NOUNS = ["Garden", "River", "Kingdom", "Kitchen", "Machine", "Sonnets", "Attic", "Summer", "Letters", "Heart",
         "Ocean", "Journey", "Dragon", "Algorithm", "Winter", "Mirror", "Tide", "Crown", "Island", "Cafe"]
SORTS = ["id", "-id", "title", "-title", "price", "-price", "rating", "-rating", "availability", "-availability"]

# h(k): a pseudo-random non-negative integer per (book, attribute), so attributes are independent.
FILL = """
INSERT INTO staging.books (run_id, id, upc, title, category, price, price_excl_tax, price_incl_tax, tax,
                           availability, rating, review_count, description, image_url, url, scraped_at)
SELECT %(run)s, i, lpad(to_hex(i), 16, '0'),
       (%(adjectives)s::text[])[1 + h(1) %% 10] || ' ' || (%(nouns)s::text[])[1 + h(2) %% 20] || ' ' || i,
       (%(categories)s::text[])[1 + h(3) %% 50],
       p, p, p, 0, h(4) %% 23, 1 + h(5) %% 5, h(6) %% 4,
       'A generated description of book ' || i || ', long enough to look like the real ones. ...more',
       'http://books.test/media/cache/' || md5(i::text) || '.jpg',
       'http://books.test/catalogue/book_' || i || '/index.html', now()
FROM generate_series(1::bigint, %(books)s) AS i,
     LATERAL (SELECT (1000 + h(7) %% 5000) / 100.0 AS p) AS price
"""
FILL = re.sub(r"h\((\d)\)", r"abs(hashint8(i * 8 + \1)::bigint)", FILL)


def fill(url: str, books: int) -> None:
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider) VALUES ('books') RETURNING id")
        run = cur.fetchone()[0]
        cur.execute(FILL, {"run": run, "books": books, "adjectives": ADJECTIVES, "nouns": NOUNS,
                           "categories": CATEGORIES})
        cur.execute("SELECT * FROM merge_books(%s, true)", (run,))
        cur.execute("UPDATE crawl_runs SET status = 'finished', finish_reason = 'finished', finished_at = now(),"
                    " complete = true WHERE id = %s", (run,))
    with conn, conn.cursor() as cur:  # books a later complete crawl no longer found, as the summaries see them
        cur.execute("UPDATE books SET removed_at = now() WHERE id % 25 = 0")
        cur.execute("SELECT refresh_book_summaries(), bump_data_version('books', NULL)")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


def varied_queries(n: int, seed: int = 12) -> list[str]:
    rng = random.Random(seed)
    queries = set()
    while len(queries) < n:
        params = {"sort": rng.choice(SORTS), "limit": rng.choice([10, 20, 30, 50])}
        if rng.random() < 0.4:
            name = rng.choice(CATEGORIES)
            params["category"] = name if rng.random() < 0.5 else name.lower().replace(" ", "-")
        if rng.random() < 0.3:
            low = rng.randint(10, 50)
            params.update(min_price=low, max_price=low + rng.choice([2, 5, 10]))
        if rng.random() < 0.3:
            params["min_rating"] = rng.randint(2, 5)
        if rng.random() < 0.15:
            params["q"] = rng.choice(NOUNS).lower()
        if rng.random() < 0.1:
            params["in_stock"] = "true"
        queries.add("/api/v1/books?" + "&".join(f"{k}={str(v).replace(' ', '%20')}" for k, v in params.items()))
    return sorted(queries)


WRK_SCRIPT = """
paths = {%s}
headers = {["Authorization"] = "Bearer %s"}
request = function()
    return wrk.format("GET", paths[math.random(#paths)], headers)
end
"""


def wrk(port: int, paths: list[str], token: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), token))
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
                              "-s", script.name, f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.unlink(script.name)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p99": float(p99.group(1)) * scale,
            "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0)}


class Server:
    """gunicorn, 2 workers, on a free loopback port, until the with-block ends."""

    def __init__(self, app: str, env: dict):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
             app], cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=self.log)

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def token_for(url: str, secret: str) -> str:
    from flask_jwt_extended import create_access_token

    from api import create_app
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES (%s, 'bench: no password') RETURNING id",
                    (f"bench-{uuid.uuid4().hex[:8]}",))
        user_id = cur.fetchone()[0]
    conn.close()
    app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": secret, "JWT_ACCESS_TOKEN_EXPIRES": False})
    with app.app_context():
        return create_access_token(str(user_id), expires_delta=False)


def bench(url: str, books: int, args) -> list[tuple]:
    """Rounds of every case on servers that all run at once, so a busy machine slows each alike."""
    secret = uuid.uuid4().hex * 2
    token = token_for(url, secret)
    env = {"DATABASE_URL": url, "JWT_SECRET_KEY": secret}
    varied = varied_queries(args.queries)
    cases = [("project", "varied", varied), ("project", "limit=20", ["/api/v1/books?limit=20"]),
             ("project", "/stats", ["/api/v1/stats"]),
             ("project", "/vitibrasil/datasets", ["/api/v1/vitibrasil/datasets"]),
             ("uncached", "varied, no response cache", varied), ("floor", "floor", varied)]
    apps = {"project": "api:create_app()", "uncached": "api:create_app({'API_RESPONSE_CACHE_BYTES': 0})",
            "floor": "bench.floor_app:create_app()"}
    runs = {label: [] for _, label, _ in cases}
    with Server(apps["project"], env) as project, Server(apps["uncached"], env) as uncached, \
            Server(apps["floor"], env) as floor:
        ports = {"project": project.port, "uncached": uncached.port, "floor": floor.port}
        for round_ in range(args.rounds + 1):  # round 0 warms up: each worker meets each query
            for server, label, paths in cases:
                result = wrk(ports[server], paths, token, args.seconds if round_ else args.warmup, args.connections)
                if round_:
                    runs[label].append(result)
    median = {label: {k: statistics.median(r[k] for r in results) for k in ("rps", "p99")}
              | {"errors": sum(r["errors"] for r in results)} for label, results in runs.items()}
    base = median.pop("floor")
    return [(books, label, r["rps"], base["rps"], r["rps"] / base["rps"], r["p99"], base["p99"], r["errors"])
            for label, r in median.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--database-url", nargs="*", help="also benchmark these databases as they are")
    parser.add_argument("--server-url", help="server for the generated databases (default: the embedded one)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each warm-up and measurement")
    parser.add_argument("--warmup", type=int, default=20, help="length of each case's warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (medians are printed)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--queries", type=int, default=300, help="distinct varied queries")
    args = parser.parse_args()
    server_url = args.server_url or migrations.embedded_url()
    rows = []
    for url in args.database_url or []:  # as it is: no fill, not dropped
        conn = migrations.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM books")
            books = cur.fetchone()[0]
        conn.close()
        rows += bench(url, books, args)
        print_table(rows)
    for books in args.books:
        with filled_database(server_url, books, "bench_http") as url:
            rows += bench(url, books, args)
        print_table(rows)
    return 0


@contextmanager
def filled_database(server_url: str, books: int, prefix: str):
    """A new database on ``server_url`` with ``books`` filled in (``fill``), dropped after the with-block."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = migrations.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_dsn(server_url, dbname=name)
    try:
        conn = migrations.connect(url)
        migrations.migrate(conn)
        conn.close()
        start = time.perf_counter()
        fill(url, books)
        print(f"filled {books} books in {time.perf_counter() - start:.1f} s", flush=True)
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def print_table(rows) -> None:
    print("\n| books | requests | project req/s | floor req/s | ratio | project p99 ms | floor p99 ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for books, label, rps, floor, ratio, p99, floor_p99, errors in rows:
        print(f"| {books:,} | {label} | {rps:.0f} | {floor:.0f} | {ratio:.2f}x | {p99:.1f} | {floor_p99:.1f}"
              f" | {errors} |")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
