"""What a spider of this project provides to the pipelines, the crawl command and the worker.

Like zyte-spider-templates' BaseSpider: a spider declares its arguments as a
pydantic model (``class MySpider(Args[MyArgs], ProjectSpider)``, validated before
any request), and answers three questions the PostgreSQL pipeline asks when it
closes the run (the status rules are in crawler/outcome.py):

- ``complete_crawl``: does this run cover the whole catalogue, so that a row it
  did not see was removed from the site?
- ``outcome``: did it get everything it was asked for? None when it did, else
  ``Outcome('partial' | 'failed', what is missing)``. The default compares what
  the spider saw (``saw``) with what the site declared (``declare``), and counts
  pages that never came back whole (``page_read`` with a problem; crawler/monitors.py
  stops the crawl early when the first ones all broke alike).
- ``page_problem(request, response)``: how a page contradicts itself (cut short,
  fewer products than it declares, ...), or None. BackoffRetryMiddleware retries
  such a page like a transient error, with backoff, before the spider reads it.
"""

from __future__ import annotations

from collections import Counter

import scrapy
from pydantic import BaseModel

from crawler import monitors
from crawler.outcome import FAILED, PARTIAL, Outcome


class ProjectSpider(scrapy.Spider):
    args: BaseModel  # set by scrapy_spider_metadata.Args from the -a arguments

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.declared: dict[str, int] = {}  # what the site says there is, e.g. {"books": 1000}
        self.seen: Counter[str] = Counter()  # what the spider read whole, same keys
        self.broken_pages: dict[str, str] = {}  # url -> why it never came back whole
        self.start_error: str | None = None  # why the start page could not be read

    @property
    def complete_crawl(self) -> bool:
        return False

    @property
    def outcome(self) -> Outcome | None:
        if not self.declared:
            return Outcome(FAILED, f"the site declared nothing: {self.start_error or 'start page not read'}")
        if not self.crawler.stats.get_value("item_scraped_count"):
            declared = ", ".join(f"{n} {what}" for what, n in self.declared.items())
            return Outcome(FAILED, f"empty crawl: no item (the site declares {declared})")
        problems = [f"saw {self.seen[what]} of {n} {what} the site declares"
                    for what, n in self.declared.items() if self.seen[what] < n]
        if self.broken_pages:
            shown = "; ".join(f"{url} ({why})" for url, why in list(self.broken_pages.items())[:5])
            more = len(self.broken_pages) - 5
            problems.append(f"{len(self.broken_pages)} page(s) never came back whole: {shown}"
                            + (f" and {more} more" if more > 0 else ""))
        return Outcome(PARTIAL, "; ".join(problems)) if problems else None

    def page_problem(self, request, response) -> str | None:
        return None

    @property
    def expected_items(self) -> int | None:
        """Items the site declared this run will yield (the progress' estimated end), None if unknown."""
        return None

    def declare(self, what: str, count: int) -> None:
        self.declared.setdefault(what, count)

    def saw(self, what: str, count: int = 1) -> None:
        self.seen[what] += count

    def page_read(self, response, kind: str, problem: str | None = None) -> None:
        """A page of ``kind`` ("listing pages") read whole or, with ``problem``, given up on."""
        if problem:
            self.broken_pages[response.url] = problem
            self.crawler.stats.inc_value("completeness/broken_pages")
            self.logger.error("Page never came back whole, not read: %s (%s)", response.url, problem)
        self.crawler.signals.send_catch_log(monitors.page_read, kind=kind, url=response.url, problem=problem)

    def start_failed(self, failure) -> None:
        """errback of the start request: the site could not be reached."""
        self.start_error = f"{failure.request.url}: {failure.getErrorMessage() or failure.type.__name__}"
        self.logger.error("Start page unreachable: %s", self.start_error)
