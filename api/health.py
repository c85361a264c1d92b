"""``/api/v1/health``: is the database there, which schema, when did each spider last finish."""

from __future__ import annotations

from flask import Blueprint

import migrations
from api.crawls import last_finished
from api.db import get_db
from api.operation import operation
from api.schemas.crawls import HealthSchema

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")


@bp.get("")
@operation("Health check", response=HealthSchema, auth=None)
def health():
    """200 when the database answers; 503 (the error shape) when it does not."""
    return {"status": "ok", "database": "up", "schema_version": migrations.schema_version(get_db()),
            "last_crawls": last_finished()}
