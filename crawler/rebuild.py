"""``python -m crawler.rebuild vitibrasil``: rebuild the observations from the stored raw files, without crawling.

For each dataset, the files the last crawl that stored it read (see
``vitibrasil.raw_file_fetches``) are parsed with the current parsers the way
the spider does (the CSV for its years, pages for the rest, within that
crawl's year range), validated, staged and merged as a new crawl run, so a
parser fix reaches the stored rows and every figure it changes keeps its
previous value in history. A dataset no crawl stored files of is skipped.
Exit codes as for crawls: 0 finished, 1 partial or failed (a dataset whose
files no longer parse is left as it was), 2 no database.
"""

from __future__ import annotations

import argparse
import logging
import sys

import migrations
from crawler.items import ObservationItem
from crawler.schemas import ObservationSchema
from crawler.store import CrawlStore, database_url
from crawler.vitibrasil.assembly import combine, read_page, total_mismatches
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import Observation, ParseError

logger = logging.getLogger("crawler.rebuild")

# The files of the most recent run that read `dataset`, with that run's arguments.
LATEST_FILES = """
WITH latest AS (
    SELECT max(x.run_id) AS run_id
    FROM vitibrasil.raw_file_fetches x JOIN vitibrasil.raw_files f ON f.id = x.raw_file_id
    WHERE f.dataset = %(dataset)s
)
SELECT f.kind, f.year, x.url, f.content_type, f.body, r.args
FROM latest JOIN vitibrasil.raw_file_fetches x ON x.run_id = latest.run_id
JOIN vitibrasil.raw_files f ON f.id = x.raw_file_id AND f.dataset = %(dataset)s
JOIN crawl_runs r ON r.id = latest.run_id
ORDER BY f.kind, f.year
"""


def rows_from_files(dataset: str, files: list[tuple]) -> tuple[list[Observation], list[str]]:
    """(rows, total mismatches) from one run's files; ParseError when a page no longer parses."""
    csv, pages, args = None, {}, files[0][-1]
    for kind, year, url, content_type, body, _ in files:
        if kind == "page":
            pages[year] = read_page(dataset, year, url, content_type, bytes(body))
            continue
        try:
            csv = parse_csv(dataset, bytes(body))
        except ParseError as exc:
            logger.warning("%s: stored CSV unreadable (%s); using its stored pages", dataset, exc)
    low, high = args.get("from_year"), args.get("to_year")
    rows = [o for o in combine(csv, pages) if (low is None or o.year >= low) and (high is None or o.year <= high)]
    return rows, total_mismatches(dataset, rows, pages)


def rebuild_vitibrasil(store: CrawlStore) -> str:
    """Stage and merge every dataset that can be rebuilt; returns the run's status."""
    run_id = store.start_run("vitibrasil", {"rebuild": "raw_files"})
    schema = ObservationSchema()
    not_rebuilt, staged, rejected, mismatches = {}, 0, 0, 0
    for dataset in DATASETS:
        with store.conn.cursor() as cur:
            cur.execute(LATEST_FILES, {"dataset": dataset})
            files = cur.fetchall()
        store.conn.commit()
        if not files:
            logger.info("%s: no stored files, nothing to rebuild", dataset)
            continue
        try:
            rows, problems = rows_from_files(dataset, files)
        except ParseError as exc:
            not_rebuilt[dataset] = str(exc)
            continue
        for problem in problems:
            logger.warning("Totals do not add up: %s", problem)
        mismatches += len(problems)
        items, rejects = [], []
        for row in map(vars, rows):
            if errors := schema.validate(row):
                rejects.append((None, errors, row))
            else:
                items.append(row)
        if items:
            store.stage(ObservationItem, items)
        if rejects:
            store.reject("vitibrasil", rejects)
        staged, rejected = staged + len(items), rejected + len(rejects)
        logger.info("%s: %d rows staged, %d rejected", dataset, len(items), len(rejects))

    for dataset, reason in not_rebuilt.items():
        logger.error("Dataset %s not rebuilt, its rows are left as they were: %s", dataset, reason)
    status = "finished" if not not_rebuilt else "failed" if len(not_rebuilt) == len(DATASETS) else "partial"
    reason = "rebuilt from raw files" + (
        f"; {len(not_rebuilt)} of {len(DATASETS)} datasets not rebuilt: "
        + "; ".join(f"{name} ({why})" for name, why in not_rebuilt.items()) if not_rebuilt else "")
    stats = {"rebuild/staged": staged, "vitibrasil/total_mismatches": mismatches,
             "vitibrasil/not_rebuilt": sorted(not_rebuilt)}
    # As for crawls: only a clean rebuild may mark rows it did not stage as removed.
    complete = status == "finished" and not rejected
    store.merge_and_finish(run_id, complete=complete, status=status, reason=reason, stats=stats)
    row = store.run_row(run_id)
    logger.info("Crawl run %s %s (rebuild): %s inserted, %s updated, %s unchanged, %s removed, %s rejected",
                row["id"], row["status"], row["inserted"], row["updated"], row["unchanged"], row["removed"],
                row["rejected"])
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.rebuild", description=__doc__.split("\n")[0])
    parser.add_argument("source", choices=["vitibrasil"], help="what to rebuild")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s")
    try:
        store = CrawlStore.open(database_url(), [ObservationItem])
    except migrations.DatabaseUnavailable as exc:
        logger.error("Rebuild not started: %s", exc)
        return 2
    try:
        return 0 if rebuild_vitibrasil(store) == "finished" else 1
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
