"""``/api/v1/crawls``: recent crawl runs with their counts and status."""

from __future__ import annotations

from flask import Blueprint

from api.db import fetch_all
from api.operation import operation
from api.schemas.crawls import CrawlListSchema, CrawlsQuery

bp = Blueprint("crawls", __name__, url_prefix="/api/v1/crawls")

CRAWL_COLUMNS = ("id, spider, status, args, started_at, finished_at, finish_reason, complete,"
                 " inserted, updated, unchanged, removed, rejected, duplicates,"
                 " pages, items, staged, rate, expected, eta, progress_at")
BOOKS_SPIDER = "books"  # the spider whose runs fill books (crawl_runs.spider)


@bp.get("")
@operation("List crawl runs", query=CrawlsQuery, response=CrawlListSchema, versions=("runs",))
def list_crawls(args):
    """Newest first, optionally of one spider or with one status. A running crawl shows its
    progress (pages, items, staged, rejected, rate, expected, eta), written at each staging flush."""
    where, params = ["true"], []
    for column in ("spider", "status"):
        if column in args:
            where.append(f"{column} = %s")
            params.append(args[column])
    rows = fetch_all(f"SELECT {CRAWL_COLUMNS} FROM crawl_runs WHERE {' AND '.join(where)}"
                     " ORDER BY started_at DESC, id DESC LIMIT %s", (*params, args["limit"]))
    return {"items": rows}


def last_runs(spider: str | None = None) -> dict[str, dict]:
    """spider -> its "last" run, last "complete" run and last "ended" run (absent: none yet), and
    "success_at" (its last finished run's end), from the crawl_freshness view (0014): /health,
    /stats and /metrics all read the last run per spider here."""
    rows = fetch_all(
        f"SELECT k.kind, f.last_success_at, {', '.join('r.' + c for c in CRAWL_COLUMNS.split(', '))}"
        " FROM crawl_freshness f CROSS JOIN LATERAL (VALUES ('last', f.last_run_id),"
        " ('complete', f.last_complete_run_id), ('ended', f.last_ended_run_id)) k (kind, id)"
        " JOIN crawl_runs r ON r.id = k.id WHERE %s::text IS NULL OR f.spider = %s", (spider, spider))
    found: dict[str, dict] = {}
    for row in rows:
        runs = found.setdefault(row["spider"], {})
        runs["success_at"], runs[row.pop("kind")] = row.pop("last_success_at"), row
    return found
