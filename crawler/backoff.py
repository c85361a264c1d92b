"""Retries that wait longer each time, so a slow or restarting server gets time to recover.

``RETRY_BACKOFF_BASE`` seconds before the first retry, doubling with each
retry up to ``RETRY_BACKOFF_MAX``. Replaces Scrapy's RetryMiddleware (same
settings otherwise: RETRY_TIMES, RETRY_HTTP_CODES, ...).

A page that answers 200 but contradicts itself (the spider's ``page_problem``:
cut short, fewer products than it declares, ...) is retried the same way: a
proxy, CDN or overloaded origin that cut it once usually serves it whole next time.
"""

from __future__ import annotations

import asyncio

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request, response):
        result = super().process_response(request, response)
        if result is response and response.status == 200 and not request.meta.get("dont_retry", False):
            page_problem = getattr(self.crawler.spider, "page_problem", None)
            if page_problem and (problem := page_problem(request, response)):
                result = self._retry(request, f"incomplete page: {problem}") or response
        return await self._after_delay(result)

    async def process_exception(self, request, exception):
        return await self._after_delay(super().process_exception(request, exception))

    async def _after_delay(self, result):
        if isinstance(result, Request):  # a retry: wait before handing it back
            await asyncio.sleep(min(self.cap, self.base * 2 ** (result.meta["retry_times"] - 1)))
        return result
