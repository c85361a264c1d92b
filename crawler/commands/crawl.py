"""``scrapy crawl`` that checks the database first and exits non-zero when a run did not finish.

Schedulers and worker dynos only see exit codes: 2 when the database is
unreachable (nothing was crawled), 1 when the run failed or was interrupted.
"""

from __future__ import annotations

import logging

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

import migrations
from crawler.pipelines.postgres import PostgresPipeline

logger = logging.getLogger(__name__)


class Command(ScrapyCrawl):
    def run(self, args, opts):
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        crawler = self._create_crawler(args[0])
        if PostgresPipeline.enabled(self.settings):
            try:
                PostgresPipeline.check_database(self.settings)
            except migrations.DatabaseUnavailable as exc:
                logger.error("Crawl not started: %s", exc)
                self.exitcode = 2
                return
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:  # e.g. invalid spider arguments
            self.exitcode = 1
            return
        stats = crawler.stats
        if (
            stats.get_value("finish_reason") != "finished"
            or stats.get_value("crawl_run/status", "finished") != "finished"
        ):
            self.exitcode = 1
