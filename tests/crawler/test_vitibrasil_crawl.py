"""Real crawls of a local Vitibrasil (tests/sites/vitibrasil.py) into a real PostgreSQL database.

Expected rows always come from the parsers run on the edition's own files:
``parse_csv`` for the CSV path, ``as_shown_on_page`` of it for the page path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache

import pytest
from pydantic import ValidationError
from scrapy.utils.test import get_crawler

import migrations
from crawler.spiders.vitibrasil import VitibrasilSpider
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from tests.api.fill import load_books
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures
from tests.crawler.vitibrasil.storage import expected, stored
from tests.crawler.helpers import as_shown_on_page
from tests.helpers import ROOT, last_run, query
from tests.sites.books import generate_books
from tests.sites.server import serve
from tests.sites.vitibrasil import VitibrasilSite

pytestmark = needs_fixtures

# Fast retries: a down site must fail in seconds, not minutes.
FAST_RETRIES = {"RETRY_TIMES": 2, "RETRY_BACKOFF_BASE": 0.01}


@cache
def edition(name: str) -> tuple:
    """Every observation of an edition's 15 CSV files."""
    return tuple(o for d in DATASETS.values() for o in parse_csv(d.name, (FIXTURES / name / d.csv_name).read_bytes()))


@pytest.fixture
def crawl_site(crawl):
    def run(site: VitibrasilSite, settings: dict | None = None, **args) -> subprocess.CompletedProcess:
        with serve(site) as base_url:
            return crawl("vitibrasil", args={"base_url": base_url, **args}, settings={**FAST_RETRIES, **(settings or {})})

    return run


def snapshot(db) -> list[tuple]:
    """Every stored row with its physical version: equal snapshots mean nothing was rewritten."""
    return query(db, "SELECT id, xmin::text, quantity, value_usd, removed_at, updated_at, run_id"
                     " FROM vitibrasil.observations ORDER BY id")


def test_every_edition_in_turn_then_a_recrawl_that_rewrites_nothing(db, crawl_site):
    listed, seen, removed = {}, set(), set()
    for name in ("csv-2024-04", "csv-2024", "csv"):
        result = crawl_site(VitibrasilSite(FIXTURES / name))
        assert result.returncode == 0, result.stderr[-3000:]
        run = last_run(db)
        assert (run["status"], run["complete"]) == ("finished", True)
        assert run["stats"]["vitibrasil/datasets_from/csv"] == 15

        rows = expected(edition(name))
        assert stored(db) == rows  # every cell of all 15 datasets, NULLs included

        # Changed figures keep their previous values; rows an edition no longer lists
        # in a (dataset, year) it lists are marked removed.
        changed = {k for k in rows.keys() & listed.keys() if rows[k] != listed[k]}
        history = query(db, "SELECT o.dataset, o.category, o.item, o.year, h.quantity, h.value_usd"
                             " FROM vitibrasil.observation_history h JOIN vitibrasil.observations o"
                             " ON o.id = h.observation_id WHERE h.replaced_by_run_id = %s", (run["id"],))
        assert {h[:4]: h[4:] for h in history} == {k: listed[k][1:3] for k in changed}
        tables = {(k[0], k[3]) for k in rows}
        dropped = {k for k in listed.keys() - rows.keys() if (k[0], k[3]) in tables}
        removed |= dropped
        assert set(stored(db, removed=True)) == removed
        new_files = query(db, "SELECT count(*) FROM vitibrasil.raw_files WHERE run_id = %s", (run["id"],))[0][0]
        assert (run["inserted"], run["updated"], run["removed"]) == (
            len(rows.keys() - seen) + new_files, len(changed), len(dropped))
        listed, seen = rows, seen | rows.keys()
    # The real differences between the editions, so the checks above did check something.
    assert query(db, "SELECT count(*) FROM vitibrasil.observation_history") == [(3,)]
    assert len(removed) == 53  # export_table_wine's "Taiwan (FORMOSA)", renamed in csv-2024

    before = snapshot(db)
    files = query(db, "SELECT id, xmin::text FROM vitibrasil.raw_files ORDER BY id")
    result = crawl_site(VitibrasilSite(FIXTURES / "csv"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = last_run(db)
    assert (run["inserted"], run["updated"], run["removed"]) == (0, 0, 0)
    assert run["unchanged"] == len(edition("csv")) + 30  # 15 CSVs and 15 first pages, already stored
    assert snapshot(db) == before
    assert query(db, "SELECT id, xmin::text FROM vitibrasil.raw_files ORDER BY id") == files
    assert query(db, "SELECT count(*) FROM vitibrasil.raw_file_fetches WHERE run_id = %s", (run["id"],)) == [(30,)]
    assert query(db, "SELECT count(*) FROM vitibrasil.observation_history") == [(3,)]
    assert query(db, "SELECT count(*) FROM staging.vitibrasil_observations") == [(0,)]


def test_pages_only_path_gives_the_csv_rows_at_page_precision(db, crawl_site):
    # Every year of every dataset (819 pages, about a minute): markers, decimals, each tab's range.
    site = VitibrasilSite(FIXTURES / "csv", missing_csv=set(DATASETS))
    result = crawl_site(site)
    assert result.returncode == 0, result.stderr[-3000:]
    run = last_run(db)
    assert (run["status"], run["complete"], run["stats"]["vitibrasil/datasets_from/pages"]) == ("finished", True, 15)
    want = [as_shown_on_page(o) for o in edition("csv")]
    assert stored(db) == expected(want)
    assert {v[1] for v in stored(db).values()} >= {None}  # the markers arrived as NULL
    assert query(db, "SELECT count(*) FROM vitibrasil.raw_files WHERE kind = 'page'") == [(15 + len(
        {(o.dataset, o.year) for o in want if o.year > 1970}),)]  # 1970 pages (read first, for the range), then the rest
    assert "Totals do not add up" not in result.stderr


class MiscountingSite(VitibrasilSite):
    """Its 1970 pages show a wrong total (7) in the totals row."""

    def page(self, dataset: str, year: int) -> str:
        html = super().page(dataset, year)
        return re.sub(r"(Total\n</td>\n<td>\n)[^\n]+", r"\g<1>7", html) if year == 1970 else html


def test_a_dataset_without_csv_is_complete_via_its_pages_and_rebuilds_without_crawling(db, crawl_site, db_url):
    site = MiscountingSite(FIXTURES / "csv", missing_csv={"processing_viniferas"}, broken_csv={"import_raisins"})
    result = crawl_site(site, datasets="processing_viniferas,import_raisins,production")
    assert result.returncode == 0, result.stderr[-3000:]
    # The wrong totals are reported, and the figures stored all the same.
    assert last_run(db)["stats"]["vitibrasil/total_mismatches"] == 3
    assert "Totals do not add up: production 1970: page total quantity 7, stored rows add up to " in result.stderr
    assert "processing_viniferas: CSV" in result.stderr and "HTTP 404; reading its year pages" in result.stderr
    assert "import_raisins: CSV unreadable" in result.stderr
    by_page = {"processing_viniferas", "import_raisins"}
    want = expected(as_shown_on_page(o) if o.dataset in by_page else o
                    for o in edition("csv") if o.dataset in by_page | {"production"})
    assert stored(db) == want
    assert {k[3] for k in want if k[0] == "processing_viniferas"} == set(range(1970, 2024))
    # The unreadable CSV is kept too: a parser fix could use it.
    assert query(db, "SELECT count(*) FROM vitibrasil.raw_files WHERE kind = 'csv'") == [(2,)]

    # Rebuild: the server is gone, stored figures are damaged; the raw files restore them.
    with db, db.cursor() as cur:
        cur.execute("UPDATE vitibrasil.observations SET quantity = quantity + 1 WHERE year = 2000 AND quantity IS NOT NULL")
    damaged = query(db, "SELECT count(*) FROM vitibrasil.observations WHERE year = 2000 AND quantity IS NOT NULL")
    requests = sum(site.requests.values())
    rebuild = subprocess.run([sys.executable, "-m", "crawler.rebuild", "vitibrasil"], cwd=ROOT, timeout=120,
                             env={**os.environ, "DATABASE_URL": db_url}, capture_output=True, text=True)
    assert rebuild.returncode == 0, rebuild.stderr[-3000:]
    assert rebuild.stderr.count("Totals do not add up") == 3
    assert sum(site.requests.values()) == requests
    assert stored(db) == want
    run = last_run(db)
    assert (run["spider"], run["args"], run["status"]) == ("vitibrasil", {"rebuild": "raw_files"}, "finished")
    assert (run["inserted"], run["updated"], run["unchanged"], run["removed"]) == (
        0, damaged[0][0], len(want) - damaged[0][0], 0)
    assert query(db, "SELECT count(*) FROM vitibrasil.observation_history WHERE replaced_by_run_id = %s",
                 (run["id"],)) == damaged


@dataclass
class FlakySite(VitibrasilSite):
    """A local site whose year pages of some datasets answer 503 (the first page still works)."""

    failing_pages: set[str] = field(default_factory=set)

    def respond(self, target):
        dataset = next((d for d in self.failing_pages if f"opcao={DATASETS[d].opcao}" in target
                        and (DATASETS[d].subopcao or "") in target), None)
        if dataset and "ano=1970" not in target and "/download/" not in target:
            self.requests[target] += 1
            return 503, "text/html", b"<h1>Service Unavailable</h1>"
        return super().respond(target)


def test_unavailable_datasets_end_the_run_failed_or_partial_and_touch_nothing(db, crawl_site, tmp_path):
    load_books(db, generate_books(5))  # a complete Vitibrasil run must not read their absence as removal
    subset = "processing_unclassified,import_fresh_grapes"
    feed = tmp_path / "items.jsonl"  # as with scrapy crawl -O: a feed beside the database
    result = crawl_site(VitibrasilSite(FIXTURES / "csv-2024-04"), datasets=subset,
                        settings={"FEEDS": json.dumps({str(feed): {"format": "jsonlines"}})})
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr[-3000:]
    assert last_run(db)["complete"] is True
    lines = [json.loads(line) for line in feed.read_text().splitlines()]
    assert len(lines) == len(stored(db)) + 4  # and a CSV and a first page per dataset, bodies in base64
    before, files = snapshot(db), query(db, "SELECT count(*) FROM vitibrasil.raw_files")

    down = VitibrasilSite(FIXTURES / "csv", down=True)
    result = crawl_site(down, datasets=subset)
    assert result.returncode == 1
    run = last_run(db)
    assert (run["status"], run["complete"]) == ("failed", False)
    assert run["finish_reason"].startswith("2 of 2 datasets not stored: processing_unclassified (page 1970: HTTP 503;")
    assert "import_fresh_grapes (" in run["finish_reason"]
    assert down.requests["/index.php?opcao=opt_03&subopcao=subopt_04&ano=1970"] == 1 + FAST_RETRIES["RETRY_TIMES"]
    assert snapshot(db) == before
    assert query(db, "SELECT count(*) FROM vitibrasil.raw_files") == files

    # One dataset's CSV is gone and its pages fail: it stays as it was, the other one is updated.
    flaky = FlakySite(FIXTURES / "csv", missing_csv={"processing_unclassified"},
                      failing_pages={"processing_unclassified"})
    result = crawl_site(flaky, datasets=subset)
    assert result.returncode == 1
    run = last_run(db)
    assert (run["status"], run["complete"]) == ("partial", False)
    assert run["finish_reason"].startswith("1 of 2 datasets not stored: processing_unclassified (page ")
    assert "HTTP 503" in run["finish_reason"]
    old = [o for o in edition("csv-2024-04") if o.dataset == "processing_unclassified"]
    new = [o for o in edition("csv") if o.dataset == "import_fresh_grapes"]
    assert {k: v for k, v in stored(db).items() if k[0] == "processing_unclassified"} == expected(old)
    assert {k: v for k, v in stored(db).items() if k[0] == "import_fresh_grapes"} == expected(new)
    assert max(k[3] for k in expected(new)) == 2024  # newer than the first crawl's edition: it was merged
    assert query(db, "SELECT count(*) FROM vitibrasil.raw_file_fetches x JOIN vitibrasil.raw_files f"
                      " ON f.id = x.raw_file_id WHERE f.dataset = 'processing_unclassified' AND x.run_id = %s",
                 (run["id"],)) == [(0,)]
    assert query(db, "SELECT count(*) FROM books WHERE removed_at IS NULL") == [(5,)]


@pytest.mark.parametrize("args, message", [
    ({"datasets": "production,wine_of_mars"}, "unknown dataset(s) wine_of_mars"),
    ({"from_year": "2020", "to_year": "2010"}, "from_year 2020 is after to_year 2010"),
    ({"from_year": "1969"}, "from_year"),
    ({"base_url": "vitibrasil.cnpuv.embrapa.br"}, "base_url"),
])
def test_invalid_arguments_stop_before_any_request(args, message, caplog):
    # In-process: the spider is never built, so nothing is requested or stored (the
    # exit code of a bad argument is checked by the books crawl tests).
    crawler = get_crawler(VitibrasilSpider)
    with pytest.raises(ValidationError, match=re.escape(message)):
        VitibrasilSpider.from_crawler(crawler, **args)
    assert "Spider parameter validation failed" in caplog.text and message in caplog.text


def test_the_migration_lists_the_parsers_datasets(empty_database):
    assert subprocess.run([sys.executable, "-m", "migrations"], cwd=ROOT, timeout=120,
                          env={**os.environ, "DATABASE_URL": empty_database}).returncode == 0
    conn = migrations.connect(empty_database)
    rows = query(conn, "SELECT name, opcao, subopcao, csv_name, label, unit, kind FROM vitibrasil.datasets")
    conn.close()
    assert sorted(rows) == sorted((d.name, d.opcao, d.subopcao, d.csv_name, d.label, d.unit, d.kind)
                                  for d in DATASETS.values())
