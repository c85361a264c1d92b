"""crawler/backoff.py: each retry of a request waits twice as long as the previous one, up to the cap."""

from __future__ import annotations

import asyncio
import time

import scrapy
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.backoff import BackoffRetryMiddleware


def test_retries_wait_longer_each_time_up_to_the_cap():
    crawler = get_crawler(scrapy.Spider, {"RETRY_TIMES": 4, "RETRY_HTTP_CODES": [503],
                                          "RETRY_BACKOFF_BASE": 0.2, "RETRY_BACKOFF_MAX": 0.5})
    crawler.spider = crawler._create_spider("site")
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = scrapy.Request("http://127.0.0.1/page")
    waits = []
    for _ in range(5):
        started = time.perf_counter()
        result = asyncio.run(middleware.process_response(request, HtmlResponse(request.url, status=503)))
        waits.append(time.perf_counter() - started)
        if not isinstance(result, scrapy.Request):
            break
        request = result
    assert isinstance(result, HtmlResponse) and result.status == 503  # given up after RETRY_TIMES
    # 0.2, 0.4, then capped at 0.5 (0.8 and 1.6 uncapped)
    assert 0.19 <= waits[0] < 0.39 and 0.39 <= waits[1] < 0.49 and all(0.49 <= w < 0.79 for w in waits[2:4])
    assert waits[4] < 0.05  # no wait before giving up
    assert crawler.stats.get_value("retry/max_reached") == 1
