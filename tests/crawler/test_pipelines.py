"""The item pipelines in-process: a Scrapy crawler from get_crawler, the project's pipelines called
through their own hooks (from_crawler, open_spider, process_item, spider_closed) against the real
test database. Real crawls (test_*_crawl.py) cover what needs the spiders and a site."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

import crawler.settings
from crawler.items import ObservationItem, RawFileItem
from crawler.rebuild import RebuildSpider, exit_code
from crawler.spiders.books import BooksSpider
from crawler.spiders.vitibrasil import VitibrasilSpider
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.observations import Observation
from tests.api.fill import SITE, book_item
from tests.crawler.vitibrasil.storage import expected, load, stored
from tests.crawler.helpers import store_run
from tests.helpers import last_run, query
from tests.sites.books import generate_books

# The project's settings, but the reactor get_crawler chooses: these runs never start one.
PROJECT_SETTINGS = {name: getattr(crawler.settings, name) for name in dir(crawler.settings)
                    if name.isupper() and name != "TWISTED_REACTOR"}


def run_pipelines(db_url: str, spider_cls, items=None, *, reason: str = "finished", saw: dict | None = None,
                  settings: dict | None = None, **args):
    """Send ``items`` (None: what the spider's start() yields) through the project's pipelines
    as a run of ``spider_cls`` that ends with ``reason``, having seen all the site declares of ``saw``."""
    crawler = get_crawler(spider_cls, {**PROJECT_SETTINGS, "DATABASE_URL": db_url, **(settings or {})})
    crawler.spider = spider_cls.from_crawler(crawler, **args)
    for what, count in (saw or {}).items():
        crawler.spider.declare(what, count)
        crawler.spider.saw(what, count)
    order = sorted(crawler.settings.getdict("ITEM_PIPELINES").items(), key=lambda entry: entry[1])
    pipelines = [load_object(path).from_crawler(crawler) for path, _ in order]

    async def call(hook: str, *hook_args):
        """Each pipeline's ``hook`` that it has, awaited when it is a coroutine (as Scrapy does)."""
        for pipeline in pipelines:
            if hasattr(pipeline, hook) and inspect.isawaitable(result := getattr(pipeline, hook)(*hook_args)):
                await result

    async def run():
        await call("open_spider")
        source = items if items is not None else [item async for item in crawler.spider.start()]
        for item in source:
            try:
                for pipeline in pipelines:
                    item = pipeline.process_item(item)
                    if inspect.isawaitable(item):
                        item = await item
            except DropItem as exc:  # as Scrapy's scraper reports a drop
                crawler.signals.send_catch_log(signals.item_dropped, item=item, response=None, exception=exc,
                                               spider=crawler.spider)
            else:
                crawler.stats.inc_value("item_scraped_count")  # as Scrapy's core stats count it
        crawler.stats.set_value("finish_reason", reason)
        await call("spider_closed", crawler.spider, reason)
        await call("engine_stopped")

    asyncio.run(run())
    return crawler


def books(count: int, seed: int = 0) -> list:
    now = datetime.now(timezone.utc)
    return [book_item(book, now) for book in generate_books(count, seed=seed)]


def test_invalid_items_are_dropped_kept_in_rejects_and_make_the_run_incomplete(db, db_url, caplog):
    caplog.set_level(logging.INFO)
    items = books(10)
    items[0].price = None
    items[1] = dataclasses.replace(items[1], rating=6, upc="")
    crawler = run_pipelines(db_url, BooksSpider, items, saw={"books": 10})
    run = last_run(db)
    assert (run["status"], run["complete"], run["inserted"], run["rejected"]) == ("finished", False, 8, 2)
    assert crawler.stats.get_value("validation/rejected") == 2
    rejects = query(db, "SELECT url, errors, item->>'title' FROM rejects WHERE run_id = %s ORDER BY id", (run["id"],))
    assert [(url, sorted(errors), title) for url, errors, title in rejects] == [
        (items[0].url, ["price"], items[0].title), (items[1].url, ["rating", "upc"], items[1].title)]
    assert query(db, "SELECT count(*) FROM books") == [(8,)]
    assert caplog.records[-1].getMessage() == (
        f"Crawl run {run['id']} finished: 8 inserted, 0 updated, 0 unchanged, 0 removed, 2 rejected, 0 duplicates")


def test_a_running_crawl_writes_its_progress_at_each_flush(db, db_url):
    items, during = books(25), []

    def source():
        for n, item in enumerate(items):
            if n == 20:  # two batches of 10 flushed: the row as a reader sees it now
                during.append(last_run(db))
            yield item

    run_pipelines(db_url, BooksSpider, source(), saw={"books": 40}, settings={"POSTGRES_BATCH_SIZE": 10})
    row = during[0]
    assert (row["status"], row["staged"], row["items"], row["expected"], row["rejected"]) == ("running", 20, 19, 40, 0)
    assert row["rate"] > 0 and row["eta"] > row["progress_at"] > row["started_at"]
    final = last_run(db)  # the last flush before the merge: every item
    assert (final["status"], final["staged"], final["items"], final["inserted"]) == ("finished", 25, 25, 25)


def test_a_site_declaring_absurd_totals_loses_no_batch_over_its_progress(db, db_url):
    run_pipelines(db_url, BooksSpider, books(5), saw={"books": 10**12})
    run = last_run(db)
    assert (run["inserted"], run["staged"], run["expected"]) == (5, 5, 2**31 - 1)
    assert run["eta"] is None or run["eta"] < run["progress_at"] + timedelta(days=366)


def test_duplicate_upcs_are_dropped_and_counted(db, db_url):
    items = books(30, seed=3)
    items[1] = dataclasses.replace(items[1], upc=items[0].upc)
    crawler = run_pipelines(db_url, BooksSpider, items, saw={"books": 30}, start_url=SITE)
    run = last_run(db)
    assert (run["inserted"], run["duplicates"]) == (29, 1)
    assert run["stats"]["dedup/duplicates"] == crawler.stats.get_value("dedup/duplicates") == 1
    assert query(db, "SELECT id FROM books WHERE upc = %s", (items[0].upc,)) == [(items[0].id,)]


def test_books_absent_from_a_complete_crawl_are_marked_removed_not_deleted(db, db_url):
    items = books(60, seed=1)
    listed = [item for item in items if item.id != 60]

    def crawl(items, **args):
        run_pipelines(db_url, BooksSpider, items, saw={"books": len(items)}, start_url=SITE, **args)
        assert last_run(db)["status"] == "finished"

    crawl(items)
    # A filtered crawl is not complete: nothing outside it is removed.
    category = next(item.category for item in listed if item.id == 59)
    crawl([item for item in listed if item.category == category], category=category)
    assert last_run(db)["complete"] is False
    assert query(db, "SELECT count(*) FROM books WHERE removed_at IS NOT NULL") == [(0,)]

    crawl(listed)
    assert last_run(db)["removed"] == 1
    assert query(db, "SELECT id FROM books WHERE removed_at IS NOT NULL") == [(60,)]
    assert query(db, "SELECT count(*) FROM books") == [(60,)]

    crawl(items)  # back in the catalogue: no longer removed
    assert query(db, "SELECT count(*) FROM books WHERE removed_at IS NOT NULL") == [(0,)]


def test_observations_breaking_their_table_shape_are_rejected(db, db_url):
    good = ObservationItem(dataset="export_table_wine", year=2020, category=None, item="Chile", is_category=False,
                           quantity=1, value_usd=2)
    bad = [dataclasses.replace(good, item="Peru", category="PAÍSES"),  # trade tables have no categories
           ObservationItem(dataset="production", year=2020, category="VINHO", item="VINHO", is_category=True,
                           quantity=1, value_usd=5)]  # only trade tables have a US$ value
    run_pipelines(db_url, VitibrasilSpider, [good, *bad], datasets="export_table_wine,production")
    run = last_run(db)
    assert (run["inserted"], run["rejected"]) == (1, 2)
    assert query(db, "SELECT errors FROM rejects ORDER BY id") == [
        ({"category": ["Trade tables have no categories."]},), ({"value_usd": ["Only trade tables have a US$ value."]},)]


def raw_file(dataset: str, kind: str, year: int | None, body: bytes) -> dict:
    return vars(RawFileItem(sha256=hashlib.sha256(body).hexdigest(), dataset=dataset, kind=kind, year=year,
                            url=f"http://vitibrasil.test/{dataset}/{year}", content_type="text/html", body=body,
                            fetched_at=datetime.now(timezone.utc)))


def test_a_rebuild_goes_through_the_pipelines_and_leaves_a_dataset_that_no_longer_parses(db, db_url, caplog):
    caplog.set_level(logging.INFO)
    production = b"id;control;Produto;1970;1971\n1;VINHO DE MESA;VINHO DE MESA;10;20\n2;vm_Tinto;Tinto;4;-\n"
    store_run(db, "vitibrasil", RawFileItem, [raw_file("production", "csv", None, production),
                                              raw_file("import_raisins", "page", 1970, b"<html>gone</html>")])
    load(db, [Observation("import_raisins", 1970, None, "Chile", False, Decimal(1), Decimal(2))])
    crawler = run_pipelines(db_url, RebuildSpider)
    run = last_run(db)
    assert (run["spider"], run["args"], run["status"], run["complete"]) == (
        "vitibrasil", {"rebuild": "raw_files"}, "partial", False)
    assert run["finish_reason"] == ("1 of 15 datasets not rebuilt:"
                                    " import_raisins (import_raisins 1970: no table.tb_dados on the page)")
    assert (run["inserted"], run["removed"], run["rejected"]) == (4, 0, 0)
    assert stored(db) == expected(parse_csv("production", production) + [
        Observation("import_raisins", 1970, None, "Chile", False, Decimal(1), Decimal(2))])
    assert crawler.stats.get_value("vitibrasil/not_rebuilt") == ["import_raisins"]
    assert exit_code(crawler) == 1
    assert f"Crawl run {run['id']} partial: 4 inserted" in caplog.records[-1].getMessage()
