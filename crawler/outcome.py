"""How a crawl run ends, written once: its status in ``crawl_runs`` and the exit code schedulers see.

Status (``crawl_runs.status``; the worker copies it into ``scheduled_crawls.outcome``):

- ``finished``: Scrapy finished and the spider saw everything the site declared
  (result and page counts); exit code 0. Only such a run, unfiltered and
  without rejects, is *complete* and may mark rows removed (few at once:
  REMOVAL_MAX_FRACTION).
- ``partial``: the spider stored only what it got whole (a page never came back
  whole, fewer items than declared) or the removal safety net held; nothing was
  removed; exit code 1.
- ``failed``: nothing usable (site unreachable, empty crawl, database lost,
  merge failed) or Scrapy stopped for another reason; exit code 1.
- ``interrupted``: stopped by a signal (graceful: merged), or killed and merged
  by a later run; exit code 1.

Exit code 2: the database was unusable at start (unreachable, not writable,
migrations lock held); nothing was crawled.
"""

from __future__ import annotations

import signal
from typing import NamedTuple

FINISHED, PARTIAL, FAILED, INTERRUPTED = "finished", "partial", "failed", "interrupted"

EXIT_FINISHED = 0
EXIT_NOT_FINISHED = 1
EXIT_NO_DATABASE = 2

# Scrapy finish reasons that mean the process was asked to stop (SIGTERM, Ctrl-C).
INTERRUPTED_REASONS = {"shutdown"}


class Outcome(NamedTuple):
    status: str
    reason: str


def of_crawl(finish_reason: str, spider_outcome: Outcome | None) -> Outcome:
    """The run's outcome from Scrapy's finish reason and what the spider says it got."""
    if finish_reason == "finished":
        return Outcome(*spider_outcome) if spider_outcome else Outcome(FINISHED, finish_reason)
    if finish_reason in INTERRUPTED_REASONS:
        return Outcome(INTERRUPTED, finish_reason)
    return Outcome(FAILED, finish_reason)


def exit_code(status: str | None) -> int:
    """``scrapy crawl``'s exit code for a run that ended with ``status`` (None: it never began)."""
    return EXIT_FINISHED if status == FINISHED else EXIT_NOT_FINISHED


def of_exit(code: int, run: dict | None, stopping: bool) -> Outcome:
    """What the worker records for a crawl child that exited with ``code``, given its crawl_runs row."""
    if run:
        detail = f"crawl run {run['id']} {run['status']} ({run['finish_reason']})"
        if code == EXIT_FINISHED:
            return Outcome(FINISHED, detail)
        return Outcome(FAILED if run["status"] == "running" else run["status"], detail)
    if code == EXIT_NO_DATABASE:
        return Outcome(FAILED, "database unusable from the crawl (see its log)")
    status = INTERRUPTED if stopping else FAILED
    if code < 0:
        return Outcome(status, f"killed by {signal.Signals(-code).name} before a crawl run began")
    return Outcome(status, "ended before a crawl run began (see its log: arguments?)")
