"""Helpers of the API's tests."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from api import create_app
from tests.helpers import ROOT

SECRET = "test-secret-" + "x" * 60
PASSWORD = "correct horse battery"


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
             "/api/v1/ml/models", "/api/v1/stats/books", "/api/v1/stats/books/changes",
             "/api/v1/vitibrasil/series?dataset=production", "/api/v1/vitibrasil/totals"]


def worker_pids(master: int) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}


@contextmanager
def gunicorn(env: dict, log: Path, *, workers: int = 2, threads: int = 1):
    """gunicorn.conf.py's server on a free port with ``workers`` processes of ``threads`` threads (one
    thread each: concurrent requests spread over the workers): (its process, its base URL) once every
    worker is up."""
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers",
                                   str(workers), "--threads", str(threads), "--bind", "127.0.0.1:0",
                                   "api:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text())) \
                or len(worker_pids(server.pid)) < workers:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield server, found.group(1)
    finally:
        server.terminate()
        server.wait(30)
