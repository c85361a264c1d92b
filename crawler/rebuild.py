"""``python -m crawler.rebuild vitibrasil``: rebuild the observations from the stored raw files, without crawling.

For each dataset, the files the last crawl that stored it read (see
``vitibrasil.raw_file_fetches``) are parsed with the current parsers the way
the spider does (the CSV for its years, pages for the rest, within that
crawl's year range), validated, staged and merged as a new crawl run, so a
parser fix reaches the stored rows and every figure it changes keeps its
previous value in history. A dataset no crawl stored files of is skipped.
Exit codes as for crawls: 0 finished, 1 partial or failed (a dataset whose
files no longer parse is left as it was), 2 no database.

The rebuild is a spider whose items come from the database instead of the
site: Scrapy runs it with the project's settings, so its items go through the
crawl's pipelines (validation, rejects, deduplication, staging, the merge and
its "complete" rule, the run's status and summary line).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings
from scrapy_spider_metadata import Args

import migrations
from crawler import outcome
from crawler.pipelines.postgres import PostgresPipeline
from crawler.spiders.base import ProjectSpider
from crawler.spiders.vitibrasil import VitibrasilSpider, observation_items
from crawler.store import connect, latest_raw_files
from crawler.vitibrasil.assembly import read_page
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS, FIRST_YEAR
from crawler.vitibrasil.observations import ParseError

logger = logging.getLogger("crawler.rebuild")

class RebuildArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: Literal["raw_files"] = Field(
        default="raw_files", title="Rebuild from",
        description="Where the items come from: the raw files earlier crawls stored (the only source).",
    )


class RebuildSpider(Args[RebuildArgs], ProjectSpider):
    """The observations of the stored raw files, as a Vitibrasil run (same rows, same orphan recovery)."""

    name = VitibrasilSpider.name
    complete_crawl = VitibrasilSpider.complete_crawl  # removal scoped to the (dataset, year) tables read
    custom_settings = {"POSTGRES_BATCH_SIZE": VitibrasilSpider.custom_settings["POSTGRES_BATCH_SIZE"]}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.not_rebuilt: dict[str, str] = {}

    @property
    def outcome(self) -> outcome.Outcome | None:
        """Partial (failed: every dataset) when a dataset's files no longer parse; None when all did."""
        if not self.not_rebuilt:
            return None
        status = outcome.FAILED if len(self.not_rebuilt) == len(DATASETS) else outcome.PARTIAL
        named = "; ".join(f"{name} ({why})" for name, why in self.not_rebuilt.items())
        return outcome.Outcome(status, f"{len(self.not_rebuilt)} of {len(DATASETS)} datasets not rebuilt: {named}")

    async def start(self):
        conn = connect(migrations.database_url(self.settings.get("DATABASE_URL")))
        try:
            for dataset in DATASETS:
                files = latest_raw_files(conn, dataset)
                if not files:
                    self.logger.info("%s: no stored files, nothing to rebuild", dataset)
                    continue
                try:
                    csv, pages = self._read(dataset, files)
                except ParseError as exc:
                    self.not_rebuilt[dataset] = str(exc)
                    self.crawler.stats.set_value("vitibrasil/not_rebuilt", sorted(self.not_rebuilt))
                    self.logger.error("Dataset %s not rebuilt, its rows are left as they were: %s", dataset, exc)
                    continue
                args = files[0]["args"]  # that crawl's year range
                wanted = range(args.get("from_year") or FIRST_YEAR, (args.get("to_year") or 9999) + 1).__contains__
                for item in observation_items(self, dataset, csv, pages, wanted):
                    yield item
        finally:
            conn.close()

    def _read(self, dataset: str, files: list[dict]):
        """(CSV rows or None, pages by year) of one run's files; ParseError when a page no longer parses."""
        csv, pages = None, {}
        for file in files:
            if file["kind"] == "page":
                pages[file["year"]] = read_page(dataset, file["year"], file["url"], file["content_type"],
                                                bytes(file["body"]))
                continue
            try:
                csv = parse_csv(dataset, bytes(file["body"]))
            except ParseError as exc:
                self.logger.warning("%s: stored CSV unreadable (%s); using its stored pages", dataset, exc)
        return csv, pages


def exit_code(crawler) -> int:
    """As ``scrapy crawl``'s (crawler/outcome.py): 0 only when the run finished."""
    stats = crawler.stats
    status = stats.get_value("crawl_run/status") or outcome.of_crawl(
        stats.get_value("finish_reason"), crawler.spider.outcome).status
    return outcome.exit_code(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.rebuild", description=__doc__.split("\n")[0])
    parser.add_argument("source", choices=["vitibrasil"], help="what to rebuild")
    parser.parse_args(argv)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")  # from any directory
    process = CrawlerProcess(get_project_settings())
    try:
        PostgresPipeline.check_database(process.settings)
    except migrations.DatabaseUnavailable as exc:
        logger.error("Rebuild not started: %s", exc)
        return outcome.EXIT_NO_DATABASE
    crawler = process.create_crawler(RebuildSpider)
    process.crawl(crawler)
    process.start()
    return exit_code(crawler)


if __name__ == "__main__":
    sys.exit(main())
