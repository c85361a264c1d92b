"""Write a run's items to PostgreSQL: batches into staging, one merge transaction at the end.

Settings: ``DATABASE_URL`` (see migrations.database_url), ``POSTGRES_ITEM_CLASSES``
(what this project stores), ``POSTGRES_BATCH_SIZE`` and ``POSTGRES_FLUSH_SECONDS``
(a batch, with the run's progress, is written when either is reached), ``POSTGRES_RETRY_SECONDS`` (how long
writes and the merge wait for a restarting database before the crawl stops),
``REMOVAL_MAX_FRACTION`` (the largest share of a table a complete run may mark
removed; ``-s REMOVAL_MAX_FRACTION=1`` lifts the limit for one run).
Items dropped by validation are stored in ``rejects`` through the item_dropped signal.

All database work runs on one thread of its own, in order, so a slow or
restarting database never blocks the reactor: downloads go on while a batch
waits, until Scrapy's scraper slot is full.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from twisted.internet import task

import migrations
from crawler import outcome
from crawler.pipelines.validation import InvalidItem
from crawler.spiders.base import ProjectSpider
from crawler.store import CrawlStore, RunLost, mark_failed

logger = logging.getLogger(__name__)

INT_MAX = 2**31 - 1  # crawl_runs' progress counts are integers
MAX_ETA_SECONDS = 365 * 86400  # a later estimated end is no estimate: left NULL


class PostgresPipeline:
    def __init__(self, crawler, url: str, item_classes, batch_size: int, flush_seconds: float,
                 retry_seconds: float, removal_max_fraction: float):
        self.crawler = crawler
        self.url = url
        self.item_classes = item_classes
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.store_options = {"retry_seconds": retry_seconds, "removal_max_fraction": removal_max_fraction}
        self.store: CrawlStore | None = None
        self.db = ThreadPoolExecutor(1, thread_name_prefix="postgres")
        self.pending: dict[type, list[dict]] = defaultdict(list)
        self.pending_rejects: list[tuple] = []
        self.staged = 0
        self.rejected = 0  # rejects stored so far
        self.writing = 0  # writes submitted to the database thread and not done yet
        self.started = time.monotonic()  # the rate's origin
        self.lost: str | None = None  # why the database was given up mid-crawl
        self.summary: str | None = None
        self.timer = task.LoopingCall(lambda: deferred_from_coro(self.flush()))

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pipeline = cls(
            crawler,
            url=migrations.database_url(settings.get("DATABASE_URL")),
            item_classes=[load_object(path) for path in settings.getlist("POSTGRES_ITEM_CLASSES")],
            batch_size=settings.getint("POSTGRES_BATCH_SIZE", 500),
            flush_seconds=settings.getfloat("POSTGRES_FLUSH_SECONDS", 5.0),
            retry_seconds=settings.getfloat("POSTGRES_RETRY_SECONDS", 60.0),
            removal_max_fraction=settings.getfloat("REMOVAL_MAX_FRACTION", 0.05),
        )
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.engine_stopped, signal=signals.engine_stopped)
        return pipeline

    @classmethod
    def enabled(cls, settings) -> bool:
        return any(load_object(path) is cls for path in settings.getdict("ITEM_PIPELINES"))

    @classmethod
    def check_database(cls, settings) -> None:
        """Connect, migrate and check writes before any request; DatabaseUnavailable when that is impossible."""
        CrawlStore.open(migrations.database_url(settings.get("DATABASE_URL")), ()).close()

    @property
    def spider(self) -> ProjectSpider:
        return self.crawler.spider

    async def _on_db(self, function, *args):
        return await asyncio.wrap_future(self.db.submit(function, *args))

    def open_spider(self):
        self.store = CrawlStore.open(self.url, self.item_classes, **self.store_options)
        for run_id, counts in self.store.recover_orphans(self.spider.name):
            logger.warning("Merged the staged items of interrupted run %s: %s", run_id, counts)
        run_id = self.store.start_run(self.spider.name, self.spider.args.model_dump(mode="json"))
        self.crawler.stats.set_value("crawl_run/id", run_id)
        logger.info("Crawl run %s started (database %s)", run_id, migrations.redact(self.url))
        self.timer.start(self.flush_seconds, now=False)

    async def process_item(self, item):
        # Shallow: items are flat, and asdict()'s deep walk costs 5x per item (57k items per Vitibrasil run).
        self.pending[type(item)].append(dict(ItemAdapter(item)))
        if sum(map(len, self.pending.values())) >= self.batch_size:
            await self.flush()  # the item waits for its batch: back-pressure while the database is slow
        return item

    def item_dropped(self, item, response, exception):
        if isinstance(exception, InvalidItem):
            url = ItemAdapter(item).get("url") or (response.url if response is not None else None)
            self.pending_rejects.append((url, exception.errors, ItemAdapter(item).asdict()))
            if len(self.pending_rejects) >= self.batch_size:
                deferred_from_coro(self.flush())

    async def flush(self):
        """Write every pending batch and the run's progress; each write commits, so what it logs is stored."""
        if self.store is None or self.lost:
            return
        batches, rejects = dict(self.pending), self.pending_rejects
        self.pending, self.pending_rejects = defaultdict(list), []
        count = sum(map(len, batches.values()))
        if not count and not rejects and self.writing:
            return  # progress alone waits for the write under way: a slow database gets no queue of them
        self.rejected += len(rejects)
        started = time.perf_counter()
        self.writing += 1
        try:
            await self._on_db(self.store.write, batches, self.spider.name, rejects, self._progress(count))
        except (migrations.DatabaseUnavailable, RunLost) as exc:
            self._give_up(str(exc))
            return
        finally:
            self.writing -= 1
        if count:
            self.staged += count
            self.crawler.stats.inc_value("postgres/staged", count)
            logger.debug("Staged %d items (%d this run) in %.3fs", count, self.staged, time.perf_counter() - started)

    def _progress(self, staging: int) -> dict:
        """The run's progress once ``staging`` more items are staged: counts, rate, and an end estimated
        from what the site declared (ProjectSpider.expected_items)."""
        stats = self.crawler.stats
        items = stats.get_value("item_scraped_count", 0)
        elapsed = time.monotonic() - self.started
        rate = items / elapsed if elapsed > 0 else 0.0
        # What the site declared is its say: bounded, so that no declaration can fail the batch it is written with.
        expected = None if self.spider.expected_items is None else min(self.spider.expected_items, INT_MAX)
        eta = None
        if expected is not None and rate > 0 and (left := max(expected - items, 0) / rate) < MAX_ETA_SECONDS:
            eta = datetime.now(timezone.utc) + timedelta(seconds=left)
        return {"pages": stats.get_value("response_received_count", 0), "items": items,
                "staged": self.staged + staging, "rejected": self.rejected, "rate": round(rate, 3),
                "expected": expected, "eta": eta}

    def _give_up(self, reason: str) -> None:
        """The database stayed away past POSTGRES_RETRY_SECONDS: stop the crawl now; the next run merges."""
        if self.lost:
            return
        self.lost = reason
        logger.error("Crawl stopped: %s; the next run merges what crawl run %s staged (%d items)",
                     reason, self.store.run_id, self.staged)
        self.crawler.stats.set_value("crawl_run/status", outcome.FAILED)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_unavailable"))

    async def spider_closed(self, spider, reason):
        if self.store is None:
            return
        if self.timer.running:
            self.timer.stop()
        await self.flush()
        try:
            if not self.lost:
                await self._on_db(self._finish, reason)
        finally:
            self.db.submit(self.store.close)
            self.db.shutdown(wait=False)

    def _finish(self, reason: str) -> None:
        """On the database thread: merge, close the run, prepare the summary line."""
        stats = self.crawler.stats
        status, reason = outcome.of_crawl(reason, self.spider.outcome)
        # The spider staged only what it got in full: merging that leaves the rest as it was.
        complete = status == outcome.FINISHED and self.spider.complete_crawl and self._clean(stats)
        run_id = self.store.run_id
        try:
            self.store.merge_and_finish(
                run_id, complete=complete, status=status, reason=reason,
                stats=stats.get_stats(), duplicates=stats.get_value("dedup/duplicates", 0),
            )
            row = self.store.run_row(run_id)
        except Exception as exc:
            # The staged rows stay for inspection; the run is not left 'running' for recovery to retry forever.
            logger.exception("Merge of crawl run %s failed; its staged items were kept", run_id)
            stats.set_value("crawl_run/status", outcome.FAILED)
            try:
                mark_failed(self.url, run_id, f"merge failed ({reason}): {' '.join(str(exc).split())[:200]}")
            except migrations.DatabaseUnavailable as unreachable:
                logger.error("Crawl run %s left 'running' for the next run to merge: %s", run_id, unreachable)
            return
        stats.set_value("crawl_run/status", row["status"])
        self.summary = (
            f"Crawl run {row['id']} {row['status']}: {row['inserted']} inserted, {row['updated']} updated, "
            f"{row['unchanged']} unchanged, {row['removed']} removed, {row['rejected']} rejected, "
            f"{row['duplicates']} duplicates"
        )
        if row["status"] != outcome.FINISHED:
            logger.error("Crawl run %s %s: %s", row["id"], row["status"], row["finish_reason"])

    def engine_stopped(self):
        # Logged last so the crawl's log ends with it, after Scrapy's stats dump.
        if self.summary:
            logger.info(self.summary)

    @staticmethod
    def _clean(stats) -> bool:
        """No page lost and no item rejected: only then does absence mean removal."""
        return not any(
            stats.get_value(key, 0)
            for key in ("log_count/ERROR", "validation/rejected", "spider_exceptions/count",
                        "httperror/response_ignored_count", "retry/max_reached")
        )
