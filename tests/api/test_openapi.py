"""The OpenAPI document validates and describes every route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from api.docs import NOT_OPERATIONS
from api.schemas.books import BooksQuery
from api.schemas.common import CURSOR_PATTERN, TEXT_PATTERN
from api.vitibrasil import DATASETS
from tests.helpers import query

PUBLIC = {"/api/v1/health", "/api/v1/auth/login", "/api/v1/openapi.json", "/api/v1/docs"}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


def test_document_validates_and_covers_every_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    routes = {(openapi_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_OPERATIONS
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    # 14 + the two /api/v1/vitibrasil routes + 4 brief aliases + 4 of the dashboard's (stats/books, its changes,
    # vitibrasil/series and totals)
    assert routes == documented and len(routes) == 26
    # + the two /api/v1/ml model routes
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["summary"] and op["description"], (path, method)
            assert "200" in op["responses"] and "400" in op["responses"]
            assert (op["security"] in ([], [{}, {"bearer": []}])) == (path in PUBLIC), path
            if op["security"]:
                assert "401" in op["responses"]


def test_document_describes_parameters_and_schemas(client):
    document = client.get("/api/v1/openapi.json").get_json()
    books = document["paths"]["/api/v1/books"]["get"]
    assert {p["name"] for p in books["parameters"] if p["in"] == "query"} == set(BooksQuery().fields)
    # HTTP caching (api/caching.py): the validator it accepts and the 304 it answers.
    assert "If-None-Match" in books["description"]
    assert "304" in books["responses"] and "ETag" in books["responses"]["200"]["headers"]
    sort = next(p for p in books["parameters"] if p["name"] == "sort")
    assert "-price" in sort["schema"]["enum"]
    assert books["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BookPage"}
    book = document["components"]["schemas"]["Book"]["properties"]
    assert book["price"]["type"] == "number" and book["removed_at"]["nullable"] is True
    detail = document["paths"]["/api/v1/books/{book_id}"]["get"]
    assert detail["parameters"][0]["in"] == "path" and "404" in detail["responses"]
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Login"}
    training = document["paths"]["/api/v1/ml/training-data"]["get"]["responses"]["200"]["content"]
    assert set(training) == {"application/json", "text/csv"}


def test_document_describes_exactly_what_is_accepted(client):
    document = client.get("/api/v1/openapi.json").get_json()
    observations = {p["name"]: p["schema"] for p in
                    document["paths"]["/api/v1/vitibrasil/observations"]["get"]["parameters"]}
    assert observations["dataset"]["enum"] == list(DATASETS) and len(DATASETS) == 15
    books = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/books"]["get"]["parameters"]}
    for schema in (books["cursor"], observations["cursor"]):
        assert schema["pattern"] == CURSOR_PATTERN and schema["maxLength"] == 500
    for schema in (books["q"], books["category"], observations["item"]):
        assert schema["pattern"] == TEXT_PATTERN  # no NUL
    assert "pattern" not in books["sort"] and books["limit"] == {"type": "integer", "default": 20, "minimum": 1,
                                                                 "maximum": 100}
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert {"400", "401", "413", "429", "503"} <= set(login["responses"])
    assert document["components"]["schemas"]["Login"]["properties"]["username"]["pattern"] == TEXT_PATTERN
    assert "pattern" not in document["components"]["schemas"]["Book"]["properties"]["title"]  # inputs only
    assert document["paths"]["/api/v1/health"]["get"]["security"] == [{}, {"bearer": []}]


def test_dataset_names_match_the_migration(db, client):
    assert [row[0] for row in query(db, "SELECT name FROM vitibrasil.datasets ORDER BY opcao, subopcao NULLS FIRST")
            ] == list(DATASETS)

