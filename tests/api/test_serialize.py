"""Compiled dumps (api/serialize.py) give exactly what marshmallow's own dump gives."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import psycopg2.extras
from marshmallow import Schema

import migrations
from api.schemas.books import BookHistorySchema, BookPageSchema, CategoryStatsListSchema, StatsSchema
from api.schemas.vitibrasil import DatasetListSchema, ObservationPageSchema


def same(schema: Schema, obj) -> None:
    compiled, reference = schema.dump(obj), Schema.dump(schema, obj)
    assert compiled == reference
    assert json.dumps(compiled) == json.dumps(reference)  # same keys in the same order, same number types


def rows(db_url, statement: str) -> list[dict]:
    conn = migrations.connect(db_url)
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(statement)
        result = cur.fetchall()
    conn.close()
    return result


def test_books_stats_and_history(db_url, catalogue):
    books = rows(db_url, "SELECT * FROM api.books ORDER BY id")
    assert len(books) == 1000
    for start in range(0, 1000, 100):
        same(BookPageSchema(), {"items": books[start:start + 100], "total": 1000, "total_is_estimate": False,
                                "next_cursor": "abc" if start else None})
    same(BookPageSchema(), {"items": [], "total": 0, "total_is_estimate": True, "next_cursor": None})
    history = rows(db_url, "SELECT price, availability, rating, valid_from, valid_to, run_id FROM book_history"
                           " ORDER BY book_id, valid_from")
    same(BookHistorySchema(), {"book_id": 20, "items": history})
    same(CategoryStatsListSchema(), {"items": rows(db_url, "SELECT * FROM api.categories ORDER BY name")})
    [stats] = rows(db_url, "SELECT * FROM api.book_stats")
    [run] = rows(db_url, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    for last in (run, None):
        same(StatsSchema(), {**stats, "price": {"min": stats["min_price"], "max": None, "avg": stats["avg_price"]},
                             "rating_distribution": {"1": 3, "5": 0}, "last_crawl": last})


def test_observations_and_datasets():
    now = datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=timezone.utc)
    items = [{"id": i, "dataset": "import_table_wine", "year": 2000 + i, "category": None if i % 2 else "X",
              "item": "Chile", "is_category": bool(i % 3), "quantity": quantity, "value_usd": value,
              "unit": "kg", "first_seen_at": now, "updated_at": now, "run_id": 7}
             for i, (quantity, value) in enumerate([(Decimal("169762429"), None), (Decimal("35881118.23"), Decimal(0)),
                                                    (None, Decimal("0.5")), (Decimal("1E+3"), Decimal("12.10"))])]
    same(ObservationPageSchema(), {"items": items, "total": 4, "total_is_estimate": False, "next_cursor": None})
    same(DatasetListSchema(), {"items": [{"name": "production", "label": "Produção", "unit": "L", "kind": "volume",
                                          "first_year": None, "last_year": 2023, "row_count": 0,
                                          "last_updated": None}]})
