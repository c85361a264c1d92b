"""``/api/v1/health``: is the database there, and is each spider's data fresh. A valid token adds the runs
themselves, which name internal start URLs."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app
from flask_jwt_extended import get_jwt_identity

import migrations
from api.crawls import last_runs
from api.db import get_db
from api.operation import operation
from api.schemas.crawls import HealthSchema

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")

ENDED_BADLY = ("failed", "partial", "interrupted")


@bp.get("")
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

