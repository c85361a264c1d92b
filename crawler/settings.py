"""Scrapy settings; every value can be overridden with ``-s NAME=value`` or the environment."""

import os

from migrations.logs import json_requested

BOT_NAME = "crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

ROBOTSTXT_OBEY = True
USER_AGENT = "books-crawler (+https://github.com/; data collection for research)"
CONCURRENT_REQUESTS = int(os.environ.get("CONCURRENT_REQUESTS", 16))
CONCURRENT_REQUESTS_PER_DOMAIN = int(os.environ.get("CONCURRENT_REQUESTS_PER_DOMAIN", 16))
DOWNLOAD_TIMEOUT = 60
# Items and requests of one response processed at once. Scrapy's 100 starts 100 asyncio tasks for
# every response, however few it yields (a product page: one item): a books crawl's largest cost.
CONCURRENT_ITEMS = 16
RETRY_ENABLED = True
RETRY_TIMES = 3
# Retries (and pages that came back cut, see crawler/backoff.py) wait 1, 2, 4... seconds.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.backoff.BackoffRetryMiddleware": 550,
}
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 60.0
# A page's retries go before pages not tried yet (Scrapy's -1 puts them after): a page that stays
# broken is known after its own backoff, not after every other page's first tries, so a site
# broken everywhere stops in seconds (crawler/monitors.py), not minutes.
RETRY_PRIORITY_ADJUST = 1
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

ITEM_PIPELINES = {
    "crawler.pipelines.validation.ValidationPipeline": 100,
    "crawler.pipelines.dedup.DeduplicationPipeline": 200,
    "crawler.pipelines.postgres.PostgresPipeline": 300,
}

# PostgreSQL writer. DATABASE_URL unset: the embedded database under .data/.
DATABASE_URL = os.environ.get("DATABASE_URL")
POSTGRES_ITEM_CLASSES = ["crawler.items.BookItem", "crawler.items.ObservationItem", "crawler.items.RawFileItem"]
POSTGRES_BATCH_SIZE = 500
POSTGRES_FLUSH_SECONDS = 5.0
# How long staging writes and the merge wait for a restarting database before the crawl stops.
POSTGRES_RETRY_SECONDS = float(os.environ.get("POSTGRES_RETRY_SECONDS", 60))
# The largest share of a table's live rows one complete run may mark removed; above it the
# run ends 'partial' and removes nothing. -s REMOVAL_MAX_FRACTION=1 lifts the limit for one run.
REMOVAL_MAX_FRACTION = float(os.environ.get("REMOVAL_MAX_FRACTION", 0.05))

# Stop early when the first 3 listing pages, or the first 3 product pages, all stayed broken
# alike after their retries: the site's markup changed (crawler/monitors.py). 0: never.
CLOSESPIDER_SYSTEMATIC_BREAKAGE = int(os.environ.get("CLOSESPIDER_SYSTEMATIC_BREAKAGE", 3))
EXTENSIONS = {"crawler.monitors.SystematicBreakage": 500}

# Progress in the log (pages, items and their rates per minute) every LOGSTATS_INTERVAL seconds.
LOGSTATS_INTERVAL = float(os.environ.get("LOGSTATS_INTERVAL", 60))

# LOG_FORMAT=json in the environment: JSON log lines (migrations/logs.py) instead of
# Scrapy's text handler (its own LOG_FORMAT setting, a %-format, is left alone).
if json_requested():
    LOG_INSTALL_ROOT_HANDLER = False
    EXTENSIONS["crawler.logs.JsonLogs"] = 0
