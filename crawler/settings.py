"""Scrapy settings; every value can be overridden with ``-s NAME=value`` or the environment."""

import os

BOT_NAME = "crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

ROBOTSTXT_OBEY = True
USER_AGENT = "books-crawler (+https://github.com/; data collection for research)"
CONCURRENT_REQUESTS = int(os.environ.get("CONCURRENT_REQUESTS", 16))
CONCURRENT_REQUESTS_PER_DOMAIN = int(os.environ.get("CONCURRENT_REQUESTS_PER_DOMAIN", 16))
DOWNLOAD_TIMEOUT = 60
RETRY_ENABLED = True
RETRY_TIMES = 3
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
POSTGRES_ITEM_CLASSES = ["crawler.items.BookItem"]
POSTGRES_BATCH_SIZE = 500
POSTGRES_FLUSH_SECONDS = 5.0
