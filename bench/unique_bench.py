"""Unique queries, each asked once, through real HTTP beside the framework floor (issue 20).

    python bench/unique_bench.py --books 1000 100000 1000000 [--seconds 10] [--rounds 3]
    python bench/unique_bench.py --database-url postgresql://.../books   # a filled database, as is

What a search box and a filter panel send: title words, two words, fragments of
three letters and book numbers, price windows in cents, categories, ratings, stock,
every sort in both directions. No request repeats, so no cache can answer it. Each
size is filled as bench/http_bench.py fills it; the project (gunicorn, 2 workers)
and the floor (bench/floor_app.py) run at once and take turns under ``wrk`` (8
connections), each round with queries not asked before. Then, on one idle process,
every query of a sample is timed alone and the slowest 10 shapes are printed with
the ``EXPLAIN (ANALYZE, BUFFERS)`` of their slowest statement.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from bench.http_bench import SORTS, Server, token_for  # noqa: E402
from tests.api.fill import ADJECTIVES, CATEGORIES, NOUNS, filled_database  # noqa: E402

FRAGMENTS = sorted({word.lower()[i:i + 3] for word in ADJECTIVES + NOUNS for i in range(len(word) - 2)})


def unique_queries(n: int, books: int, seed: int) -> list[str]:
    """``n`` distinct list queries as users compose them (module docstring)."""
    rng = random.Random(seed)
    queries = set()
    while len(queries) < n:
        params = {}
        if rng.random() < 0.4:
            name = rng.choice(CATEGORIES)
            params["category"] = name if rng.random() < 0.5 else name.lower().replace(" ", "-")
        if rng.random() < 0.4:
            low = rng.randint(1000, 5800)
            params.update(min_price=f"{low / 100:.2f}", max_price=f"{(low + rng.randint(50, 1500)) / 100:.2f}")
        if rng.random() < 0.3:
            params["min_rating" if rng.random() < 0.7 else "rating"] = rng.randint(1, 5)
        if rng.random() < 0.15:
            params["in_stock"] = rng.choice(["true", "false"])
        if rng.random() < 0.35:
            params["q"] = rng.choice([
                lambda: rng.choice(NOUNS + ADJECTIVES).lower(),  # one word, 5-10% of titles
                lambda: f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}".lower(),  # two words
                lambda: rng.choice(FRAGMENTS),  # three letters as typed
                lambda: str(rng.randint(1, books)),  # a book number
                lambda: rng.choice(["stone", "war", "love", "night", "the sea"]),  # words no title holds
            ])()
        params["sort"] = rng.choice(SORTS)
        params["limit"] = rng.choice([10, 20, 30, 50])
        queries.add("/api/v1/books?" + urlencode(params))
    return sorted(queries, key=lambda _: rng.random())


def shape(path: str) -> str:
    """A query's shape: which parameters, which sort; not their values."""
    params = dict(p.split("=", 1) for p in path.split("?", 1)[1].split("&"))
    return "&".join(k if k != "sort" else f"sort={v}" for k, v in sorted(params.items()) if k != "limit")


WRK_SCRIPT = """
paths = {%s}
headers = {["Authorization"] = "Bearer %s"}
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) n = id end
function request()
    n = n + %d
    return wrk.format("GET", paths[n %% #paths + 1], headers)
end
"""


def wrk(port: int, paths: list[str], token: str, seconds: int, connections: int, threads: int = 2) -> dict:
    """Each path at most once while fewer than len(paths) requests are sent (threads take turns)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), token, threads))
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                              "--latency", "-s", script.name, f"http://127.0.0.1:{port}"], capture_output=True,
                             text=True, check=True).stdout
    finally:
        os.unlink(script.name)

    def latency(percent):
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "timeouts": int((re.search(r"timeout (\d+)", out) or [0, 0])[1]),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "repeats": max(0, requests - len(paths))}


def bench(url: str, books: int, args) -> dict:
    secret = uuid.uuid4().hex * 2
    token = token_for(url, secret)
    env = {"DATABASE_URL": url, "JWT_SECRET_KEY": secret}
    runs = {"project": [], "floor": []}
    seed = 0
    with Server("api:create_app()", env) as project, Server("bench.floor_app:create_app()", env) as floor:
        for round_ in range(args.rounds + 1):  # round 0 warms up (connections, imports)
            for name, server in (("project", project), ("floor", floor)):
                seed += 1
                paths = unique_queries(args.queries, books, seed=books * 1000 + seed)
                result = wrk(server.port, paths, token, args.seconds if round_ else args.warmup, args.connections)
                if round_:
                    runs[name].append(result)
    median = {name: {k: statistics.median(r[k] for r in results) for k in ("rps", "p50", "p99")}
              | {k: sum(r[k] for r in results) for k in ("timeouts", "non_2xx", "repeats")}
              for name, results in runs.items()}
    return {"books": books, **median}


def slowest(url: str, books: int, sample: int, top: int) -> list[str]:
    """Each of ``sample`` unique queries timed alone on one in-process app (no response cache), the
    statements it ran recorded; the slowest ``top`` shapes with the plan of their slowest statement."""
    from api import create_app, db
    from api.db import close_pool

    secret = uuid.uuid4().hex * 2
    token = token_for(url, secret)
    app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": secret, "API_RESPONSE_CACHE_BYTES": 0})
    statements = []
    for name in ("fetch_all", "fetch_one"):  # record what a request runs, and how long each statement takes
        def recorded(statement, params=(), _run=getattr(db, name)):
            start = time.perf_counter()
            result = _run(statement, params)
            statements.append((time.perf_counter() - start, statement, params))
            return result
        setattr(db, name, recorded)
        for module in ("api.books", "api.paging"):
            if hasattr(sys.modules[module], name):
                setattr(sys.modules[module], name, recorded)
    client = app.test_client()
    timings = []
    for path in unique_queries(sample, books, seed=books):
        statements.clear()
        start = time.perf_counter()
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (path, response.get_json())
        explainable = [s for s in statements if not s[1].startswith("EXPLAIN")]  # the count's estimate is one
        timings.append((elapsed, path, max(explainable, key=lambda s: s[0])))
    close_pool(app)
    by_shape = {}
    for elapsed, path, statement in sorted(timings, reverse=True):
        by_shape.setdefault(shape(path), (elapsed, path, statement))
    lines = [f"\n### {books:,} books: slowest {top} shapes of {sample} unique queries, each alone (ms)"]
    conn = migrations.connect(url)
    for elapsed, path, (_, statement, params) in list(by_shape.values())[:top]:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = '10s'; SET max_parallel_workers_per_gather = 0; SET jit = off")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
            plan = "\n".join(row[0] for row in cur.fetchall())
        conn.rollback()
        lines.append(f"\n{elapsed:.1f} ms  {path}\n```\n{plan}\n```")
    conn.close()
    ordered = sorted(t[0] for t in timings)
    lines.insert(1, f"alone: p50 {statistics.median(ordered):.1f} ms, p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms,"
                    f" max {ordered[-1]:.1f} ms")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="*", default=[1000, 100_000])
    parser.add_argument("--database-url", nargs="*", default=[], help="also benchmark these databases as they are")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (medians are printed)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--queries", type=int, default=20_000, help="distinct queries per round and server")
    parser.add_argument("--sample", type=int, default=500, help="queries timed alone for the slowest shapes")
    args = parser.parse_args()
    rows, plans = [], []

    def run(url, books):
        rows.append(bench(url, books, args))
        print_table(rows)
        plans.extend(slowest(url, books, args.sample, 10))
        print("\n".join(plans[-12:]), flush=True)

    for url in args.database_url:
        conn = migrations.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM books")
            books = cur.fetchone()[0]
        conn.close()
        run(url, books)
    server_url = migrations.embedded_url()
    for books in args.books:
        with filled_database(server_url, books, "bench_unique") as url:
            run(url, books)
    print_table(rows)
    return 0


def print_table(rows) -> None:
    print("\n| books | project req/s | floor req/s | ratio | project p50 / p99 ms | floor p50 / p99 ms"
          " | timeouts | non-2xx | repeats |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        p, f = r["project"], r["floor"]
        print(f"| {r['books']:,} | {p['rps']:.0f} | {f['rps']:.0f} | {p['rps'] / f['rps']:.2f}x"
              f" | {p['p50']:.1f} / {p['p99']:.1f} | {f['p50']:.1f} / {f['p99']:.1f}"
              f" | {p['timeouts']} | {p['non_2xx']} | {p['repeats']} |")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
