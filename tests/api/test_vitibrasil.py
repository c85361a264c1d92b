"""/api/v1/vitibrasil: datasets, observations with every filter, cursor walks, CSV output, bad input.

The data is the csv/ edition of four datasets (markers, decimals, categories,
trade values), merged by the crawler's SQL; a second run drops one row, so
removed rows are known not to be served.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from functools import cache

import pytest

from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from tests.api.helpers import assert_error
from tests.helpers import query
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures
from tests.crawler.vitibrasil.storage import load

pytestmark = needs_fixtures

LIST = "/api/v1/vitibrasil/observations"
LOADED = ("production", "processing_viniferas", "import_table_wine", "export_grape_juice")
GONE = ("production", "VINHO DE MESA", "Rosado", 2023)  # absent from the second run


@cache
def observations() -> tuple:
    return tuple(o for name in LOADED for o in parse_csv(name, (FIXTURES / "csv" / DATASETS[name].csv_name).read_bytes()))


def as_json(o) -> dict:
    return {"dataset": o.dataset, "year": o.year, "category": o.category, "item": o.item,
            "is_category": o.is_category, "quantity": o.quantity, "value_usd": o.value_usd,
            "unit": DATASETS[o.dataset].unit}


def served(*, keep=lambda o: True) -> list[dict]:
    """What the API serves, in its order: by year, then the table's row order."""
    rows = [o for o in observations() if (o.dataset, o.category, o.item, o.year) != GONE and keep(o)]
    return [as_json(o) for o in sorted(rows, key=lambda o: o.year)]  # stable: row order within a year


@pytest.fixture
def data(db_url):
    """The four datasets loaded (again, if a test emptied the database)."""
    import migrations

    conn = migrations.connect(db_url)
    if query(conn, "SELECT count(*) FROM vitibrasil.observations WHERE removed_at IS NOT NULL") != [(1,)]:
        with conn, conn.cursor() as cur:  # only these: users and the books catalogue stay
            cur.execute("TRUNCATE vitibrasil.observations, vitibrasil.observation_history RESTART IDENTITY")
        load(conn, observations())
        load(conn, [o for o in observations() if (o.dataset, o.category, o.item, o.year) != GONE])
    conn.close()


def get(client, auth, **params):
    response = client.get(LIST, query_string=params, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def fields_of(items: list[dict]) -> list[dict]:
    keys = ("dataset", "year", "category", "item", "is_category", "quantity", "value_usd", "unit")
    return [{k: item[k] for k in keys} for item in items]


def walk(client, auth, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = get(client, auth, **params, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= int(params.get("limit", 100))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            assert len(items) == page["total"]
            return items


def test_datasets(client, auth, data):
    body = client.get("/api/v1/vitibrasil/datasets", headers=auth).get_json()
    assert [d["name"] for d in body["items"]] == list(DATASETS)  # the site's order
    for item in body["items"]:
        spec = DATASETS[item["name"]]
        assert (item["label"], item["unit"], item["kind"]) == (spec.label, spec.unit, spec.kind)
        years = sorted({o.year for o in observations() if o.dataset == spec.name})
        rows = served(keep=lambda o: o.dataset == spec.name)
        assert (item["first_year"], item["last_year"], item["row_count"]) == (
            (years[0], years[-1], len(rows)) if rows else (None, None, 0))
        assert (item["last_updated"] is None) == (not rows)


def test_a_year_of_production_exactly_as_stored_in_the_sites_order(client, auth, data):
    body = get(client, auth, dataset="production", year=2023)
    assert fields_of(body["items"]) == served(keep=lambda o: o.dataset == "production" and o.year == 2023)
    first = body["items"][0]
    assert (first["item"], first["is_category"], first["quantity"]) == ("VINHO DE MESA", True, 169762429)
    assert body["total"] == len(body["items"]) and body["next_cursor"] is None
    assert set(body["items"][0]) == {"dataset", "year", "category", "item", "is_category", "quantity",
                                     "value_usd", "unit", "first_seen_at", "updated_at", "run_id"}


def test_markers_are_null_and_decimals_exact(client, auth, data):
    unknown = get(client, auth, dataset="processing_viniferas", year=2019, limit=1000)["items"]
    assert unknown and all(item["quantity"] is None for item in unknown)
    decimals = get(client, auth, dataset="processing_viniferas", year=2023, limit=1000)["items"]
    assert fields_of(decimals) == served(keep=lambda o: o.dataset == "processing_viniferas" and o.year == 2023)
    assert any(item["quantity"] != int(item["quantity"]) for item in decimals)  # e.g. 35881118.23, not rounded


FILTERS = [
    ({"dataset": "import_table_wine", "item": "Chile"}, lambda o: o.dataset == "import_table_wine" and o.item == "Chile"),
    ({"dataset": "production", "category": "VINHO DE MESA"},
     lambda o: o.dataset == "production" and o.category == "VINHO DE MESA"),
    ({"dataset": "production", "category": "VINHO DE MESA", "item": "Tinto", "from_year": 2000},
     lambda o: o.dataset == "production" and o.category == "VINHO DE MESA" and o.item == "Tinto" and o.year >= 2000),
    ({"dataset": "export_grape_juice", "from_year": 2010, "to_year": 2012},
     lambda o: o.dataset == "export_grape_juice" and 2010 <= o.year <= 2012),
    ({"dataset": "export_grape_juice", "to_year": 1971}, lambda o: o.dataset == "export_grape_juice" and o.year <= 1971),
    ({"dataset": "import_table_wine", "category": "VINHO DE MESA"}, lambda o: False),  # trade: no categories
    ({"dataset": "commercialization"}, lambda o: False),  # never crawled
]


@pytest.mark.parametrize("params, keep", FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_filters(client, auth, data, params, keep):
    assert fields_of(walk(client, auth, limit=1000, **params)) == served(keep=keep)


def test_cursor_walk_visits_each_row_once_in_order(client, auth, data):
    items = walk(client, auth, dataset="processing_viniferas", limit=97)
    assert fields_of(items) == served(keep=lambda o: o.dataset == "processing_viniferas")
    assert len({item["run_id"] for item in items}) == 1


def test_csv_is_every_matching_row(client, auth, data):
    response = client.get(LIST, query_string={"dataset": "processing_viniferas", "from_year": 2018, "format": "csv"},
                          headers=auth)
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    assert 'filename="vitibrasil-processing_viniferas.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("dataset,year,category,item,is_category,quantity,value_usd,unit\n")
    expected = served(keep=lambda o: o.dataset == "processing_viniferas" and o.year >= 2018)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                     for k, v in row.items()} for row in expected]
    assert any(row["quantity"] == "" for row in rows) and any("." in row["quantity"] for row in rows)

    trade = client.get(LIST, query_string={"dataset": "import_table_wine", "year": 2024, "format": "csv"},
                       headers=auth).get_data(as_text=True)
    assert [row["value_usd"] for row in csv.DictReader(io.StringIO(trade))] == [
        str(o["value_usd"]) for o in served(keep=lambda o: o.dataset == "import_table_wine" and o.year == 2024)]
    empty = client.get(LIST, query_string={"dataset": "commercialization", "format": "csv"}, headers=auth)
    assert empty.get_data(as_text=True) == "dataset,year,category,item,is_category,quantity,value_usd,unit\n"


def test_removed_rows_are_not_served(client, auth, data):
    dataset, category, item, year = GONE
    assert get(client, auth, dataset=dataset, category=category, item=item, year=year)["items"] == []
    assert get(client, auth, dataset=dataset, category=category, item=item, year=year - 1)["total"] == 1


@pytest.mark.parametrize("params, field", [
    ({}, "dataset"),
    ({"dataset": "wine_of_mars"}, "dataset"),
    ({"dataset": "production", "year": "1900"}, "year"),
    ({"dataset": "production", "year": "recent"}, "year"),
    ({"dataset": "production", "from_year": "2010", "to_year": "2000"}, "to_year"),
    ({"dataset": "production", "format": "xml"}, "format"),
    ({"dataset": "production", "limit": "0"}, "limit"),
    ({"dataset": "production", "limit": "1001"}, "limit"),
    ({"dataset": "production", "format": "csv", "limit": "10"}, "limit"),
    ({"dataset": "production", "cursor": "not-a-cursor"}, "cursor"),
    ({"dataset": "production", "sort": "year"}, "sort"),
])
def test_bad_parameters(client, auth, data, params, field):
    assert_error(client.get(LIST, query_string=params, headers=auth), 400, field)


def test_a_cursor_belongs_to_its_filters(client, auth, data):
    cursor = get(client, auth, dataset="production", limit=5)["next_cursor"]
    assert_error(client.get(LIST, query_string={"dataset": "production", "limit": 5, "year": 2000, "cursor": cursor},
                            headers=auth), 400, "cursor")
    assert get(client, auth, dataset="production", limit=10, cursor=cursor)["items"]  # page size may change


def test_series_of_a_dataset(client, auth, data):
    body = json.loads(client.get("/api/v1/vitibrasil/series?dataset=production", headers=auth).get_data(as_text=True),
                      parse_float=Decimal)
    rows = served(keep=lambda o: o.dataset == "production")
    keys = {(r["category"], r["item"]) for r in rows}
    assert body["unit"] == "L" and {(s["category"], s["item"]) for s in body["items"]} == keys
    categories = [s for s in body["items"] if s["is_category"]]
    assert body["items"][:len(categories)] == categories  # categories first
    tinto = next(s for s in body["items"] if (s["category"], s["item"]) == ("VINHO DE MESA", "Tinto"))
    years = [r for r in rows if (r["category"], r["item"]) == ("VINHO DE MESA", "Tinto")]
    assert (tinto["first_year"], tinto["last_year"]) == (min(r["year"] for r in years), max(r["year"] for r in years))
    assert tinto["quantity"] == sum(r["quantity"] for r in years if r["quantity"] is not None)
    assert_error(client.get("/api/v1/vitibrasil/series", headers=auth), 400, "dataset")


def test_totals_per_dataset_and_year(client, auth, data):
    items = json.loads(client.get("/api/v1/vitibrasil/totals", headers=auth).get_data(as_text=True),
                       parse_float=Decimal)["items"]
    assert {i["dataset"] for i in items} == set(LOADED)
    by_key = {(i["dataset"], i["year"]): i for i in items}
    for dataset in ("production", "import_table_wine"):
        for year in (1970, 2023):
            rows = [r for r in served(keep=lambda o: o.dataset == dataset and o.year == year)
                    if r["is_category"] or r["category"] is None]
            assert by_key[(dataset, year)]["quantity"] == sum(r["quantity"] or 0 for r in rows)
    wine = by_key[("import_table_wine", 2023)]
    assert (wine["unit"], wine["kind"]) == ("kg", "trade") and wine["value_usd"] > 0
    only = client.get("/api/v1/vitibrasil/totals?dataset=production", headers=auth).get_json()["items"]
    assert {i["dataset"] for i in only} == {"production"}


@pytest.mark.parametrize("path", ["/api/v1/vitibrasil/datasets", LIST + "?dataset=production",
                                  "/api/v1/vitibrasil/series?dataset=production", "/api/v1/vitibrasil/totals"])
def test_a_token_is_required(client, path):
    assert_error(client.get(path), 401)


def test_openapi_documents_both_endpoints(client):
    document = client.get("/api/v1/openapi.json").get_json()
    observations_op = document["paths"][LIST]["get"]
    assert {p["name"] for p in observations_op["parameters"]} == {
        "dataset", "year", "from_year", "to_year", "category", "item", "format", "limit", "cursor"}
    assert next(p for p in observations_op["parameters"] if p["name"] == "dataset")["required"] is True
    assert set(observations_op["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert observations_op["security"] and document["paths"]["/api/v1/vitibrasil/datasets"]["get"]["security"]


def test_the_read_only_role_reads_the_views(db):
    grants = query(db, "SELECT has_table_privilege('api_reader', 'api.vitibrasil_observations', 'SELECT'),"
                       " has_table_privilege('api_reader', 'api.vitibrasil_datasets', 'SELECT'),"
                       " has_table_privilege('api_reader', 'vitibrasil.raw_files', 'SELECT')")
    assert grants == [(True, True, False)]
