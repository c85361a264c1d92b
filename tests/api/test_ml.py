"""/api/v1/ml: the feature list, and training data in JSON and CSV, streamed and stamped."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import migrations
from api.schemas.ml import FEATURES
from tests.helpers import assert_error, query

DATA = "/api/v1/ml/training-data"


def expected_row(book) -> dict:
    return {"book_id": book.id, "category": book.category, "price": book.price_incl_tax,
            "price_excl_tax": book.price_excl_tax, "tax": book.tax, "availability": book.availability,
            "in_stock": book.availability > 0, "rating": book.rating, "review_count": book.review_count,
            "description_length": len(book.description or ""), "title_length": len(book.title)}


def test_features_match_the_view(client, auth, catalogue, db_url):
    body = client.get("/api/v1/ml/features", headers=auth).get_json()
    assert [f["name"] for f in body["features"]] == [f.name for f in FEATURES]
    assert all(f["type"] and f["description"] for f in body["features"])
    assert body["crawl_run_id"] == catalogue.runs[-1]
    conn = migrations.connect(db_url)
    columns = query(conn, "SELECT column_name FROM information_schema.columns"
                          " WHERE table_schema = 'api' AND table_name = 'training_data' ORDER BY ordinal_position")
    conn.close()
    assert [c[0] for c in columns] == [f.name for f in FEATURES]


def test_training_data_json(client, auth, catalogue):
    response = client.get(DATA, headers=auth)
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "application/json"
    body = json.loads(response.get_data(as_text=True), parse_float=Decimal)
    assert body["crawl_run_id"] == catalogue.runs[-1] == int(response.headers["X-Crawl-Run-Id"])
    assert body["features"] == [f.name for f in FEATURES]
    assert body["rows"] == [expected_row(catalogue.books[i]) for i in sorted(catalogue.listed)]


def test_training_data_csv_equals_json(client, auth, catalogue):
    response = client.get(DATA, query_string={"format": "csv"}, headers=auth)
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "text/csv"
    assert response.headers["X-Crawl-Run-Id"] == str(catalogue.runs[-1])
    assert f"training-data-run-{catalogue.runs[-1]}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 960
    for row in rows:
        expected = expected_row(catalogue.books[int(row["book_id"])])
        for money in ("price", "price_excl_tax", "tax"):  # amounts as stored: two decimals
            assert re.fullmatch(r"\d+\.\d\d", row[money]) and Decimal(row.pop(money)) == expected.pop(money)
        assert row == {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in expected.items()}


def test_training_data_of_an_empty_database(db, client, auth):
    assert client.get(DATA, headers=auth).get_json() == {
        "crawl_run_id": None, "features": [f.name for f in FEATURES], "rows": []}
    assert client.get(DATA + "?format=csv", headers=auth).get_data(as_text=True) == \
        ",".join(f.name for f in FEATURES) + "\n"


def test_training_data_bad_input(client, auth):
    assert_error(client.get(DATA + "?format=xml", headers=auth), 400, "format")
    assert_error(client.get(DATA + "?limit=5", headers=auth), 400, "limit")
    assert_error(client.get("/api/v1/ml/features?x=1", headers=auth), 400, "x")
