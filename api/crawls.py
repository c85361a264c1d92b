"""``/api/v1/crawls``: recent crawl runs with their counts and status."""

from __future__ import annotations

from flask import Blueprint

from api.db import fetch_all
from api.operation import operation
from api.schemas.crawls import CrawlListSchema, CrawlsQuery

bp = Blueprint("crawls", __name__, url_prefix="/api/v1/crawls")

CRAWL_COLUMNS = ("id, spider, status, args, started_at, finished_at, finish_reason, complete,"
                 " inserted, updated, unchanged, removed, rejected, duplicates")
BOOKS_SPIDER = "books"  # the spider whose runs fill books (crawl_runs.spider)


@bp.get("")
@operation("List crawl runs", query=CrawlsQuery, response=CrawlListSchema, versions=("runs",))
def list_crawls(args):
    """Newest first, optionally of one spider or with one status."""
    where, params = ["true"], []
    for column in ("spider", "status"):
        if column in args:
            where.append(f"{column} = %s")
            params.append(args[column])
    rows = fetch_all(f"SELECT {CRAWL_COLUMNS} FROM crawl_runs WHERE {' AND '.join(where)}"
                     " ORDER BY started_at DESC, id DESC LIMIT %s", (*params, args["limit"]))
    return {"items": rows}


def last_finished(spider: str | None = None) -> list[dict]:
    """The last finished run of each spider (or of ``spider``)."""
    return fetch_all(
        f"SELECT DISTINCT ON (spider) {CRAWL_COLUMNS} FROM crawl_runs"
        " WHERE finished_at IS NOT NULL AND (%s::text IS NULL OR spider = %s)"
        " ORDER BY spider, finished_at DESC, id DESC",
        (spider, spider),
    )
