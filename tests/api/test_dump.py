"""Answers are written by a dump compiled from the response schema and orjson (api/operation.py
``dumped``): for every operation, the JSON that marshmallow's dump and jsonify write, value for
value and type for type."""

from __future__ import annotations

import json

import pytest
from flask import jsonify

import api.operation
from api.schemas.books import BookPageSchema
from api.schemas.common import plain_dump

PATHS = ["/api/v1/books?limit=100", "/api/v1/books?include_removed=true&sort=-price&q=the", "/api/v1/books/{id}",
         "/api/v1/books/{id}/history", "/api/v1/books/search?title=a", "/api/v1/books/top-rated",
         "/api/v1/books/price-range?min=10&max=30", "/api/v1/categories", "/api/v1/stats",
         "/api/v1/stats/categories", "/api/v1/stats/books", "/api/v1/stats/books?category=poetry",
         "/api/v1/stats/books/changes", "/api/v1/stats/overview", "/api/v1/crawls", "/api/v1/health",
         "/api/v1/vitibrasil/datasets", "/api/v1/ml/models"]


def typed(answer: bytes) -> str:
    """The answer's values, with 1 and 1.0 told apart."""
    return json.dumps(json.loads(answer), sort_keys=True)


def test_the_compiled_dump_writes_what_marshmallow_writes(client, auth, catalogue, monkeypatch):
    compiled = []

    def both(schema, dump, data):
        answer = dumped(schema, dump, data)
        assert typed(answer.get_data()) == typed(jsonify(schema.dump(data)).get_data()), type(schema).__name__
        compiled.append(dump is not None)
        return answer

    dumped = api.operation.dumped
    monkeypatch.setattr(api.operation, "dumped", both)
    book = next(iter(catalogue.changed))
    for path in PATHS:
        response = client.get(path.format(id=book), headers=auth)
        assert response.status_code == 200, (path, response.get_json())
        assert response.mimetype == "application/json"
    assert len(compiled) == len(PATHS) and all(compiled)


@pytest.mark.parametrize("data", [{"items": [], "next_cursor": None, "total": 0, "total_is_estimate": False}])
def test_a_page_dump_keeps_only_the_schema_fields(data):
    dump = plain_dump(BookPageSchema())
    assert dump({**data, "walked": 5}) == data
    with pytest.raises(api.schemas.common.NotPlain):
        dump(object())
