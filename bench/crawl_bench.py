"""A full crawl of a generated books site by the project, against a plain Scrapy spider (the floor).

    python bench/crawl_bench.py --books 1000 10000 [--runs 3]

The site runs in its own process (tests/sites/books CLI). For each size, ``--runs`` rounds
alternate the two, each timed from process start to exit (imports and start-up included):

- project: ``scrapy crawl books`` into a fresh database (empty; its schema applied beforehand, as the
  release phase does: the crawl only checks it) with the project's settings and the whole item chain
  (validation, dedup, staging, merge);
- plain: bench/plain_books.py, the same pages and fields, run with ``scrapy runspider`` from a
  folder outside the project, so with Scrapy's default settings but the project's concurrency
  (16 per domain; Scrapy's default is 8, which made the floor slower than the project) and
  LOG_LEVEL (INFO).

Prints each run and the ratio of the medians (project / plain).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from tests.cluster import free_port  # noqa: E402

PLAIN = ROOT / "bench" / "plain_books.py"


def start_site(books: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    site = subprocess.Popen([sys.executable, "-m", "tests.sites.books", "--books", str(books), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return site, f"http://127.0.0.1:{port}/"
        except OSError:
            if time.monotonic() > deadline or site.poll() is not None:
                site.kill()
                raise RuntimeError("the test site did not start")
            time.sleep(0.2)


def timed(command: list[str], cwd: Path, env: dict) -> dict:
    """Wall and CPU seconds (user + system: what a loaded machine changes least) of a crawl process."""
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        stderr = log.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:5])} failed ({child.returncode}):\n{stderr[-2000:]}")
    stat = lambda name: float(re.search(rf"'{name}': ([\d.]+)", stderr).group(1))  # noqa: E731
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "pages": stat("response_received_count"),
            "items": stat("item_scraped_count")}


def project(base_url: str, server_url: str) -> dict:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = admin.get_dsn_parameters()
    dsn = f"host={params['host']} port={params['port']} user={params['user']} dbname={name}"
    conn = migrations.connect(dsn)
    migrations.migrate(conn)
    conn.close()
    try:
        return timed([sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={base_url}index.html"],
                     ROOT, {**os.environ, "DATABASE_URL": dsn})
    finally:
        admin.cursor().execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def plain(base_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    with tempfile.TemporaryDirectory() as outside:  # no scrapy.cfg: Scrapy's defaults
        return timed([sys.executable, "-m", "scrapy", "runspider", str(PLAIN), "-a", f"start_url={base_url}index.html",
                      "-s", "LOG_LEVEL=INFO", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"], Path(outside), env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server_url = os.environ.get("BENCH_DATABASE_URL") or migrations.embedded_url()

    for books in args.books:
        site, base_url = start_site(books)
        runs: dict[str, list[dict]] = {"project": [], "plain": []}
        try:
            for round_ in range(1, args.runs + 1):
                for kind, crawl in (("plain", lambda: plain(base_url)), ("project", lambda: project(base_url, server_url))):
                    run = crawl()
                    runs[kind].append(run)
                    print(f"{books:>7} books  round {round_}  {kind:<7} {run['wall']:7.1f} s wall {run['cpu']:7.1f} s CPU"
                          f"  {run['pages']:.0f} pages  {run['items']:.0f} items", flush=True)
        finally:
            site.terminate()
        for measure in ("wall", "cpu"):
            project_s, plain_s = (statistics.median(r[measure] for r in runs[kind]) for kind in ("project", "plain"))
            print(f"{books:>7} books  median {measure:<4} project {project_s:.1f} s / plain {plain_s:.1f} s"
                  f" = {project_s / plain_s:.2f}x", flush=True)


if __name__ == "__main__":
    main()
