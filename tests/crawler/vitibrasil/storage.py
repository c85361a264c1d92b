"""The Vitibrasil tables in tests: the reference rows, the rows as stored, and loading rows without a crawl."""

from __future__ import annotations

from psycopg2.extras import execute_values

from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import Observation
from tests.helpers import query

Key = tuple[str, str | None, str, int]  # dataset, category, item, year


def key(o: Observation) -> Key:
    return o.dataset, o.category, o.item, o.year


def expected(observations) -> dict[Key, tuple]:
    """What vitibrasil.observations must hold for ``observations``: (is_category, quantity, value_usd, unit)."""
    return {key(o): (o.is_category, o.quantity, o.value_usd, DATASETS[o.dataset].unit) for o in observations}


def stored(conn, *, removed: bool = False) -> dict[Key, tuple]:
    rows = query(conn, "SELECT dataset, category, item, year, is_category, quantity, value_usd, unit"
                       " FROM vitibrasil.observations WHERE (removed_at IS NOT NULL) = %s", (removed,))
    return {row[:4]: row[4:] for row in rows}


def load(conn, observations, *, complete: bool = True) -> int:
    """Stage ``observations`` in a new finished crawl run and merge them as the pipeline does; the run id."""
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider, args) VALUES ('vitibrasil', '{}') RETURNING id")
        run_id = cur.fetchone()[0]
        execute_values(cur, "INSERT INTO staging.vitibrasil_observations"
                            " (run_id, dataset, year, category, item, is_category, quantity, value_usd) VALUES %s",
                       [(run_id, o.dataset, o.year, o.category, o.item, o.is_category, o.quantity, o.value_usd)
                        for o in observations], page_size=5000)
        cur.execute("SELECT * FROM vitibrasil.merge_observations(%s, %s)", (run_id, complete))
        inserted, updated, unchanged, removed = cur.fetchone()
        cur.execute("UPDATE crawl_runs SET status = 'finished', finish_reason = 'finished', finished_at = now(),"
                    " complete = %s, inserted = %s, updated = %s, unchanged = %s, removed = %s, rejected = 0,"
                    " duplicates = 0 WHERE id = %s", (complete, inserted, updated, unchanged, removed, run_id))
    return run_id
