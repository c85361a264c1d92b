"""The Vitibrasil tables in tests: the reference rows, the rows as stored, and loading rows without a crawl."""

from __future__ import annotations

from crawler.items import ObservationItem
from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import Observation
from tests.crawler.helpers import store_run
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
    return store_run(conn, "vitibrasil", ObservationItem, [vars(o) for o in observations], complete=complete)
