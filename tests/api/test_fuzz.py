"""The OpenAPI document drives a fuzzer (schemathesis) against the real app and the test
database (the 1000-book catalogue, a few Vitibrasil figures), with a valid token:
no 5xx, every status and body as documented, and what the document calls invalid is refused.

Bounded for the suite (FUZZ_EXAMPLES per operation and mode, default 40). A long run, e.g.
``FUZZ_EXAMPLES=1500 pytest -n 0 -s tests/api/test_fuzz.py`` (about 33,000 requests), is in docs/api.md.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

import migrations
from api.docs import spec
from tests.api.helpers import make_app

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture
def vitibrasil_figures(db_url):
    """A few production and export rows (a category, its items, an unknown figure), once."""
    conn = migrations.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM vitibrasil.observations")
        if cur.fetchone()[0] == 0:
            cur.execute("INSERT INTO crawl_runs (spider, status, finished_at, complete) VALUES"
                        " ('vitibrasil', 'finished', now(), true) RETURNING id")
            run = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO vitibrasil.observations (dataset, category, item, year, is_category, quantity,"
                " value_usd, unit, first_seen_at, updated_at, run_id) VALUES"
                " ('production', 'VINHO DE MESA', 'VINHO DE MESA', 2023, true, 169762429, NULL, 'L', now(), now(), %(r)s),"
                " ('production', 'VINHO DE MESA', 'Tinto', 2023, false, 139320884, NULL, 'L', now(), now(), %(r)s),"
                " ('production', 'VINHO DE MESA', 'Branco', 2022, false, NULL, NULL, 'L', now(), now(), %(r)s),"
                " ('export_table_wine', NULL, 'Chile', 2023, false, 1234.5, 6789.25, 'kg', now(), now(), %(r)s)",
                {"r": run})
    conn.close()


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(path, method, mode) of every documented operation, negative ones where it takes input.
    The document needs no database."""
    with make_app("postgresql://unused@127.0.0.1:1/none").app_context():
        paths = spec()["paths"]
    return [(path, method.upper(), mode) for path, item in paths.items() for method, op in item.items()
            for mode in GenerationMode if mode.is_positive or op["parameters"] or "requestBody" in op]


@pytest.mark.parametrize("path, method, mode", _cases())
def test_the_api_does_what_its_document_says(app, auth, catalogue, vitibrasil_figures, path, method, mode):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode, headers=auth))  # fixed: invalid cases vary the rest
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              print_blob=True)
    def fuzz(case):
        nonlocal sent
        sent += 1
        case.call_and_validate(checks=CHECKS)

    sent = 0
    fuzz()
    print(f"fuzz: {sent} requests to {method} {path} ({mode})")  # shown with -s: the long run's count
