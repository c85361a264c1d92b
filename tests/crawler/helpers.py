"""Helpers of the crawler's tests (and of the API tests that fill the database as a crawl does)."""

from __future__ import annotations

from dataclasses import replace

from psycopg2.extras import RealDictCursor

from crawler.store import CrawlStore
from crawler.vitibrasil.datasets import DATASETS, Dataset
from crawler.vitibrasil.observations import Observation, whole_units


def store_run(conn, spider: str, item_class, rows: list[dict], *, complete: bool = True) -> int:
    """Stage ``rows`` of ``item_class`` in a new run and merge it the way the crawl's pipeline does; the run id."""
    previous, conn.cursor_factory = conn.cursor_factory, RealDictCursor  # the store reads dict rows
    try:
        store = CrawlStore(conn, [item_class])
        run_id = store.start_run(spider, {})
        if rows:
            store.stage(item_class, rows)
        store.merge_and_finish(run_id, complete=complete, status="finished", reason="finished", duplicates=0)
    finally:
        conn.cursor_factory = previous
    return run_id


def dataset_for(opcao: str, subopcao: str | None) -> Dataset | None:
    """The Vitibrasil dataset a page request addresses; single-table tabs ignore subopcao."""
    for d in DATASETS.values():
        if d.opcao == opcao and (d.subopcao is None or d.subopcao == subopcao):
            return d
    return None


def as_shown_on_page(obs: Observation) -> Observation:
    """A Vitibrasil observation at page precision; only CSV decimals change."""
    return replace(obs, quantity=whole_units(obs.quantity), value_usd=whole_units(obs.value_usd))
