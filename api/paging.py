"""Keyset pages and their ``total``, for every listing (docs/api.md, "Conventions"): a page resumes after
the cursor's (sort value, id), so a deep page costs what the first does. Counts, and whatever else
``remember`` is given, are kept per data version, so paging through a listing counts it once."""

from __future__ import annotations

import json

from flask import current_app

from api import cursor
from api.caching import BoundedCache
from api.db import fetch_all, fetch_one, snapshot_versions

COUNTS = "api.count_cache"


def init_app(app) -> None:
    app.config.setdefault("API_COUNT_CAP", 1_000)
    app.config.setdefault("API_COUNT_CACHE_SIZE", 10_000)
    app.extensions[COUNTS] = BoundedCache(app.config["API_COUNT_CACHE_SIZE"])


def where_sql(conditions: list[str]) -> str:
    return " AND ".join(conditions) or "true"


def page(source: str, where: list[str], params: list, *, columns: tuple[str, ...], descending: bool,
         args: dict, limit: int, exact_total: int | None = None, plan=None, planned=None) -> dict:
    """One page of ``source`` rows matching ``where`` ordered by ``columns`` (the last one unique), as
    {items, next_cursor, total, total_is_estimate}. ``exact_total``: known from a summary. ``plan``: None
    for one ORDER BY … LIMIT, or ``plan(after, after_params, order, rows)`` giving (up to ``rows`` rows
    after the cursor's condition ``after``; (total, is it an estimate) or None to count; the key to resume
    after a short page, or None). ``planned``: see count."""
    listing = {k: v for k, v in args.items() if k not in ("cursor", "limit")}
    after, after_params = [], []
    if "cursor" in args:
        after.append(f"({', '.join(columns)}) {'<' if descending else '>'} ({', '.join(['%s'] * len(columns))})")
        after_params += cursor.decode(args["cursor"], columns, listing)
    direction = " DESC" if descending else ""
    order = ", ".join(c + direction for c in columns)
    if plan is None:
        rows, seen, resume = fetch_all(f"SELECT * FROM {source} WHERE {where_sql(where + after)}"
                                       f" ORDER BY {order} LIMIT %s", (*params, *after_params, limit + 1)), None, None
    else:
        rows, seen, resume = plan(after, after_params, order, limit + 1)
    items = rows[:limit]
    if exact_total is not None:
        total, estimated = exact_total, False
    elif seen is not None and (seen[1] or not after):  # an exact figure of rows after a cursor is not the total
        total, estimated = remember(_count_key(source, where, params), lambda: seen)
    else:
        total, estimated = count(source, where, params, planned)
    if len(rows) > limit:
        resume = [items[-1][c] for c in columns]
    return {"items": items, "total": total, "total_is_estimate": estimated,
            "next_cursor": cursor.encode(resume, listing) if resume is not None else None}


def remember(key, compute):
    """``compute()``, kept per (data version, ``key``) in the app's bounded cache; not kept for
    operations that declare no data version (api/operation.py)."""
    versions = snapshot_versions()
    if not versions:
        return compute()
    cache = current_app.extensions[COUNTS]
    if (known := cache.get((versions, key))) is None:
        known = compute()
        cache.put((versions, key), known)
    return known


def count(source: str, where: list[str], params: list, planned: tuple | None = None) -> tuple[int, bool]:
    """(rows matching, is it an estimate): exact up to ``API_COUNT_CAP``, the planner's estimate above.
    ``planned``: (where, params) the planner estimates well; when it expects twice the cap or more, that
    is the answer and nothing is counted (counting 1,001 sparse matches may read far more than a page)."""
    def counted() -> tuple[int, bool]:
        cap = current_app.config["API_COUNT_CAP"]
        if planned and (planned_rows := estimate(source, *planned)) > 2 * cap:
            return planned_rows, True
        n = fetch_one(f"SELECT count(*) AS n FROM (SELECT 1 FROM {source} WHERE {where_sql(where)} LIMIT %s) c",
                      (*params, cap + 1))["n"]
        return (n, False) if n <= cap else (max(estimate(source, where, params), cap + 1), True)
    return remember(_count_key(source, where, params), counted)


def _count_key(source: str, where: list[str], params: list) -> tuple:
    return source, tuple(where), json.dumps(params, default=str)


def estimate(source: str, where: list[str], params) -> int:
    plan = fetch_one(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {source} WHERE {where_sql(where)}", params)
    return int(plan["QUERY PLAN"][0]["Plan"]["Plan Rows"])
