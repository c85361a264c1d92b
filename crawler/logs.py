"""JSON log lines when ``LOG_FORMAT=json``: one object per line, for log drains and search.

Each line: ``time`` (UTC), ``level``, ``logger``, ``message``, the mapping a call
logged with (Scrapy's progress line: pages, items and rates) under ``data``,
the ``extra=`` fields of the call, and ``exception`` when there is one.

In a crawl, crawler/settings.py then turns Scrapy's own root handler off
(Scrapy rebuilds it, with a plain formatter, as the crawl starts) and enables
the ``JsonLogs`` extension, which installs this one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone


# Attributes every LogRecord has; anything else on a record came from extra=.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def json_requested() -> bool:
    return os.environ.get("LOG_FORMAT", "").strip().lower() == "json"


def _field(value):
    """An extra= value as JSON: plain data as is, a spider by its name, other objects (a Crawler) not at all."""
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else _OPAQUE


_OPAQUE = object()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if isinstance(record.args, Mapping) and record.args:
            entry["data"] = dict(record.args)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and (value := _field(value)) is not _OPAQUE:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str | int | None = None) -> None:
    """Root logging for processes that are not Scrapy's (the worker): JSON or Scrapy's text format."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_requested()
        else logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    logging.basicConfig(level=level or os.environ.get("LOG_LEVEL", "INFO"), handlers=[handler], force=True)


class JsonLogs:
    """Scrapy extension: a JSON root handler at the crawl's LOG_LEVEL.

    Extensions are built as the crawl starts: Scrapy's start banner comes
    before and is not shown; a warning or error logged before (the crawl
    command's "database unreachable" line) reaches stderr as bare text.
    """

    def __init__(self, level: str):
        if not any(isinstance(h.formatter, JsonFormatter) for h in logging.root.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(JsonFormatter())
            handler.setLevel(level)
            logging.root.addHandler(handler)
            logging.root.setLevel(logging.NOTSET)  # as Scrapy's handler does: the handler's level decides

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("LOG_LEVEL"))
