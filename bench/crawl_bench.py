"""Time full crawls of a generated books site, with and without the database pipelines.

    python bench/crawl_bench.py --books 1000 10000 [--concurrency 16]

The site runs in its own process (tests/sites/books CLI) so it does not share the
crawler's GIL. Each size is crawled twice into a fresh database: once with
ITEM_PIPELINES={} (parsing only) and once with the full chain (validation,
dedup, batched staging, merge). Prints pages/s and the pipelines' overhead.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_site(books: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    site = subprocess.Popen([sys.executable, "-m", "tests.sites.books", "--books", str(books), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return site, f"http://127.0.0.1:{port}/"
        except OSError:
            if time.monotonic() > deadline or site.poll() is not None:
                site.kill()
                raise RuntimeError("the test site did not start")
            time.sleep(0.2)


def crawl(base_url: str, database_url: str, concurrency: int, pipelines: bool) -> dict:
    command = [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={base_url}index.html",
               "-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
               "-s", "LOG_LEVEL=INFO"]
    if not pipelines:
        command += ["-s", "ITEM_PIPELINES={}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url},
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"crawl failed ({result.returncode}):\n{result.stderr[-2000:]}")
    stat = lambda name: float(re.search(rf"'{name}': ([\d.]+)", result.stderr).group(1))  # noqa: E731
    return {"wall": wall, "elapsed": stat("elapsed_time_seconds"), "pages": stat("response_received_count"),
            "items": stat("item_scraped_count")}


def fresh_database(server_url: str) -> tuple[str, callable]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg2.connect(server_url).get_dsn_parameters()
    dsn = f"host={params['host']} port={params['port']} user={params['user']} dbname={name}"

    def drop():
        admin.cursor().execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()

    return dsn, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    server_url = os.environ.get("BENCH_DATABASE_URL") or migrations.embedded_url()

    print(f"{'books':>7} {'pipelines':>9} {'pages':>7} {'seconds':>8} {'pages/s':>8} {'items/s':>8}")
    for books in args.books:
        site, base_url = start_site(books)
        database_url, drop = fresh_database(server_url)
        try:
            runs = {flag: crawl(base_url, database_url, args.concurrency, flag) for flag in (False, True)}
        finally:
            site.terminate()
            drop()
        for flag, run in runs.items():
            print(f"{books:>7} {'on' if flag else 'off':>9} {run['pages']:>7.0f} {run['elapsed']:>8.1f} "
                  f"{run['pages'] / run['elapsed']:>8.0f} {run['items'] / run['elapsed']:>8.0f}")
        overhead = runs[True]["elapsed"] / runs[False]["elapsed"] - 1
        print(f"{books:>7} pipelines' overhead: {overhead:+.1%} of crawl time")


if __name__ == "__main__":
    main()
