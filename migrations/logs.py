"""One log format for every process (crawls, the worker, the API), chosen by ``LOG_FORMAT``, read here only.

Text by default; with ``LOG_FORMAT=json`` one JSON object per line (python-json-logger),
for log drains and search: ``time`` (UTC), ``level``, ``logger``, ``message``, the
mapping a call logged with (Scrapy's progress line: pages, items and rates) under
``data``, the ``extra=`` fields of the call, and ``exception`` when there is one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


def json_requested() -> bool:
    return os.environ.get("LOG_FORMAT", "").strip().lower() == "json"


class JsonLines(JsonFormatter):
    def __init__(self):
        super().__init__("{levelname}{name}{message}", style="{", json_ensure_ascii=False,
                         rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception",
                                        "stack_info": "stack"})

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        if isinstance(record.args, Mapping) and record.args:
            log_data["data"] = dict(record.args)

    def process_log_record(self, log_data: dict) -> dict:
        # extra= objects: a spider by its name; others (a Crawler) are left out.
        plain = (str, int, float, bool, list, dict, type(None))
        named = {k: getattr(v, "name", None) for k, v in log_data.items() if not isinstance(v, plain)}
        return {k: named.get(k, v) for k, v in log_data.items()
                if isinstance(v, plain) or isinstance(named[k], str)}


def formatter() -> logging.Formatter:
    """This process's formatter: JSON lines or text."""
    return JsonLines() if json_requested() else logging.Formatter(TEXT_FORMAT, "%Y-%m-%d %H:%M:%S")


def handler(level: int | str = logging.NOTSET) -> logging.Handler:
    """A stderr handler in this process's format."""
    stream = logging.StreamHandler()
    stream.setFormatter(formatter())
    stream.setLevel(level)
    return stream


def configure(level: str | int | None = None) -> None:
    """Root logging for processes that are not Scrapy's (the worker)."""
    logging.basicConfig(level=level or os.environ.get("LOG_LEVEL", "INFO"), handlers=[handler()], force=True)
