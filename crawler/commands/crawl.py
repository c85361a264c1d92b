"""``scrapy crawl`` that checks the database first and exits non-zero when a run did not finish.

Why Scrapy's own ``crawl`` command is replaced: it exits 0 whenever the
process ends normally, whatever the run got, and it would start downloading
before finding out that the database is unreachable. Schedulers, the worker
(crawler/worker.py) and Heroku's release/worker dynos only see exit codes, so
this command (COMMANDS_MODULE) gives them the rules of crawler/outcome.py:
0 the run finished, 1 it is partial, failed or interrupted (also: invalid
arguments), 2 the database is unusable (unreachable, not writable,
migrations lock held; one error line, nothing crawled).
"""

from __future__ import annotations

import logging

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

import migrations
from crawler import outcome
from crawler.pipelines.postgres import PostgresPipeline

logger = logging.getLogger(__name__)


class Command(ScrapyCrawl):
    def run(self, args, opts):
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        crawler = self.crawler_process.create_crawler(args[0])
        if PostgresPipeline.enabled(self.settings):
            try:
                PostgresPipeline.check_database(self.settings)
            except migrations.DatabaseUnavailable as exc:
                logger.error("Crawl not started: %s", exc)
                self.exitcode = outcome.EXIT_NO_DATABASE
                return
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:  # e.g. invalid spider arguments
            self.exitcode = outcome.EXIT_NOT_FINISHED
            return
        stats = crawler.stats
        # Set by the database pipeline (it may find the run partial at merge); without it, the same rules.
        status = stats.get_value("crawl_run/status") or outcome.of_crawl(
            stats.get_value("finish_reason"), crawler.spider.outcome).status
        self.exitcode = outcome.exit_code(status)
