"""End a crawl early when its pages break the same way from the start (a redesign, not a flaky site).

Like Scrapy's CloseSpider extension (CLOSESPIDER_* settings) and spidermon's monitors:
``CLOSESPIDER_SYSTEMATIC_BREAKAGE = N`` (0 turns it off) closes the spider when the first
N pages of one kind (listing pages, product pages) all never came back whole, broken alike
(their problems differ only in numbers), before any page of that kind was read whole. Each of
them was retried first (crawler/backoff.py), so a page cut now and then is never counted;
one page of the kind read whole disarms the monitor for that kind.

The run then ends ``failed`` with a reason an operator can act on; nothing is removed (only a
complete, finished run removes). Spiders report pages through ``ProjectSpider.page_read``.
"""

from __future__ import annotations

import logging
import re

from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

# Signal: a catalogue page read whole (problem None) or given up on. Arguments: kind, url, problem.
page_read = object()

_NUMBER = re.compile(r"\d+")


class SystematicBreakage:
    def __init__(self, crawler, limit: int):
        self.crawler = crawler
        self.limit = limit
        # kind -> (url, problem) of its first pages given up on; None once the kind is decided.
        self.first: dict[str, list[tuple[str, str]] | None] = {}
        crawler.signals.connect(self.page_read, signal=page_read)

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("CLOSESPIDER_SYSTEMATIC_BREAKAGE")
        if limit <= 0:
            raise NotConfigured
        return cls(crawler, limit)

    def page_read(self, kind: str, url: str, problem: str | None) -> None:
        broken = self.first.setdefault(kind, [])
        if broken is None:
            return
        if problem is None:
            self.first[kind] = None  # a page of this kind came back whole: breakage is not systematic
            return
        broken.append((url, problem))
        if len(broken) < self.limit:
            return
        self.first[kind] = None
        if len({_NUMBER.sub("N", p) for _, p in broken}) == 1:
            url, problem = broken[0]
            reason = (f"the site's markup changed? the first {self.limit} {kind} never came back whole, "
                      f"all alike: {problem} ({url})")
            logger.error("Crawl stopped early: %s", reason)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))
