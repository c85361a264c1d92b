"""JSON log lines in a crawl when ``LOG_FORMAT=json`` (the format: migrations/logs.py).

crawler/settings.py then turns Scrapy's own root handler off (Scrapy rebuilds
it, with a plain formatter, as the crawl starts) and enables the ``JsonLogs``
extension, which installs the JSON one.
"""

from __future__ import annotations

import logging

from migrations.logs import JsonLines, handler


class JsonLogs:
    """Scrapy extension: a JSON root handler at the crawl's LOG_LEVEL.

    Extensions are built as the crawl starts: Scrapy's start banner comes
    before and is not shown; a warning or error logged before (the crawl
    command's "database unreachable" line) reaches stderr as bare text.
    """

    def __init__(self, level: str):
        if not any(isinstance(h.formatter, JsonLines) for h in logging.root.handlers):
            logging.root.addHandler(handler(level))
            logging.root.setLevel(logging.NOTSET)  # as Scrapy's handler does: the handler's level decides

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("LOG_LEVEL"))
