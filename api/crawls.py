"""``/api/v1/crawls``: recent crawl runs with their counts and status; ``/api/v1/health``: is the database there,
and is each spider's data fresh (a valid token adds the runs themselves, which name internal start URLs). Both,
and /metrics, read the last run per spider from the crawl_freshness view (``last_runs``)."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app
from flask_jwt_extended import get_jwt_identity

import migrations
from api.db import fetch_all, get_db
from api.operation import operation
from api.schemas.crawls import CrawlListSchema, CrawlRunSchema, CrawlsQuery, HealthSchema

bp = Blueprint("crawls", __name__, url_prefix="/api/v1/crawls")
health_bp = Blueprint("health", __name__, url_prefix="/api/v1/health")

CRAWL_COLUMNS = tuple(CrawlRunSchema().fields)  # crawl_runs' columns a run is shown with
BOOKS_SPIDER = "books"  # the spider whose runs fill books (crawl_runs.spider)


@bp.get("")
@operation("List crawl runs", query=CrawlsQuery, response=CrawlListSchema, versions=("runs",))
def list_crawls(args):
    """Newest first, optionally of one spider or with one status. A running crawl shows its
    progress (pages, items, staged, rejected, rate, expected, eta), written at each staging flush."""
    given = [column for column in ("spider", "status") if column in args]
    where = " AND ".join(["true", *(f"{column} = %s" for column in given)])
    return {"items": fetch_all(f"SELECT {', '.join(CRAWL_COLUMNS)} FROM crawl_runs WHERE {where} ORDER BY"
                               " started_at DESC, id DESC LIMIT %s", (*(args[c] for c in given), args["limit"]))}


def last_runs(spider: str | None = None) -> dict[str, dict]:
    """spider -> its "last" run, last "complete" run and last "ended" run (absent: none yet), and
    "success_at" (its last finished run's end), from the crawl_freshness view (0014)."""
    rows = fetch_all(
        f"SELECT k.kind, f.last_success_at, {', '.join('r.' + c for c in CRAWL_COLUMNS)}"
        " FROM crawl_freshness f CROSS JOIN LATERAL (VALUES ('last', f.last_run_id),"
        " ('complete', f.last_complete_run_id), ('ended', f.last_ended_run_id)) k (kind, id)"
        " JOIN crawl_runs r ON r.id = k.id WHERE %s::text IS NULL OR f.spider = %s", (spider, spider))
    found: dict[str, dict] = {}
    for row in rows:
        runs = found.setdefault(row["spider"], {})
        runs["success_at"], runs[row.pop("kind")] = row.pop("last_success_at"), row
    return found


ENDED_BADLY = ("failed", "partial", "interrupted")


@health_bp.get("")
@operation("Health check", response=HealthSchema, auth="optional")
def health():
    """200 when the database answers, with `status` degraded when a spider's data is
    stale or its last run failed; 503 (the error shape) when the database does not answer.
    Without a token: status and freshness only. With a valid token: each spider's last
    run and last complete run too. An invalid token is a 401."""
    now = datetime.now(timezone.utc)
    detailed = get_jwt_identity() is not None
    runs = last_runs()
    config = current_app.config
    names = sorted({*runs, *config["HEALTH_MAX_AGES"]})
    spiders = []
    for name in names:
        last, complete, ended = (runs.get(name, {}).get(kind) for kind in ("last", "complete", "ended"))
        max_age = config["HEALTH_MAX_AGES"].get(name, config["HEALTH_MAX_AGE"])
        age = int((now - complete["finished_at"]).total_seconds()) if complete else None
        spider = {"spider": name, "last_status": last and last["status"],
                  "last_complete_at": complete and complete["finished_at"], "age_seconds": age,
                  "max_age_seconds": max_age, "stale": age is None or age > max_age,
                  "failed": bool(ended) and ended["status"] in ENDED_BADLY}
        if detailed:
            spider.update(last_run=last, last_complete_run=complete)
        spiders.append(spider)
    degraded = any(s["stale"] or s["failed"] for s in spiders)
    return {"status": "degraded" if degraded else "ok", "database": "up",
            "schema_version": migrations.schema_version(get_db()), "spiders": spiders}
