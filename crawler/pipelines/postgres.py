"""Write a run's items to PostgreSQL: batches into staging, one merge transaction at the end.

Settings: ``DATABASE_URL`` (else the environment, else the embedded database),
``POSTGRES_ITEM_CLASSES`` (what this project stores), ``POSTGRES_BATCH_SIZE``
and ``POSTGRES_FLUSH_SECONDS`` (a batch is written when either is reached).
Items dropped by validation are stored in ``rejects`` through the item_dropped signal.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.utils.misc import load_object
from twisted.internet import task

import migrations
from crawler.pipelines.validation import InvalidItem
from crawler.store import CrawlStore, MergeCounts

logger = logging.getLogger(__name__)

# Scrapy finish reasons that mean the process was asked to stop (SIGTERM, Ctrl-C).
INTERRUPTED_REASONS = {"shutdown"}


class PostgresPipeline:
    def __init__(self, crawler, url: str, item_classes, batch_size: int, flush_seconds: float):
        self.crawler = crawler
        self.url = url
        self.item_classes = item_classes
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.store: CrawlStore | None = None
        self.pending: dict[type, list[dict]] = defaultdict(list)
        self.pending_rejects: list[tuple] = []
        self.staged = 0
        self.summary: str | None = None
        self.timer = task.LoopingCall(self.flush)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        pipeline = cls(
            crawler,
            url=cls.database_url(settings),
            item_classes=[load_object(path) for path in settings.getlist("POSTGRES_ITEM_CLASSES")],
            batch_size=settings.getint("POSTGRES_BATCH_SIZE", 500),
            flush_seconds=settings.getfloat("POSTGRES_FLUSH_SECONDS", 5.0),
        )
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.engine_stopped, signal=signals.engine_stopped)
        return pipeline

    @staticmethod
    def database_url(settings) -> str:
        return settings.get("DATABASE_URL") or migrations.database_url()

    @classmethod
    def enabled(cls, settings) -> bool:
        return any(load_object(path) is cls for path in settings.getdict("ITEM_PIPELINES"))

    @classmethod
    def check_database(cls, settings) -> None:
        """Connect and migrate before any request; DatabaseUnavailable when that is impossible."""
        CrawlStore.open(cls.database_url(settings), ()).close()

    @property
    def spider(self):
        return self.crawler.spider

    def open_spider(self):
        self.store = CrawlStore.open(self.url, self.item_classes)
        for run_id, counts in self.store.recover_orphans(self.spider.name):
            logger.warning("Merged the staged items of interrupted run %s: %s", run_id, counts)
        args = self.spider.args.model_dump(mode="json") if hasattr(self.spider, "args") else {}
        run_id = self.store.start_run(self.spider.name, args)
        self.crawler.stats.set_value("crawl_run/id", run_id)
        logger.info("Crawl run %s started (database %s)", run_id, migrations.redact(self.url))
        self.timer.start(self.flush_seconds, now=False)

    def process_item(self, item):
        # Shallow: items are flat, and asdict()'s deep walk costs 5x per item (57k items per Vitibrasil run).
        self.pending[type(item)].append(dict(ItemAdapter(item)))
        if sum(map(len, self.pending.values())) >= self.batch_size:
            self.flush()
        return item

    def item_dropped(self, item, response, exception):
        if isinstance(exception, InvalidItem):
            url = ItemAdapter(item).get("url") or (response.url if response is not None else None)
            self.pending_rejects.append((url, exception.errors, ItemAdapter(item).asdict()))
            if len(self.pending_rejects) >= self.batch_size:
                self.flush()

    def flush(self):
        """Write every pending batch; each write commits, so what it logs is stored."""
        if self.store is None:
            return
        started = time.perf_counter()
        count = 0
        for item_class, items in self.pending.items():
            if items:
                self.store.stage(item_class, items)
                count += len(items)
        self.pending.clear()
        if self.pending_rejects:
            self.store.reject(self.spider.name, self.pending_rejects)
            self.pending_rejects = []
        if count:
            self.staged += count
            self.crawler.stats.inc_value("postgres/staged", count)
            logger.debug("Staged %d items (%d this run) in %.3fs", count, self.staged, time.perf_counter() - started)

    def spider_closed(self, spider, reason):
        if self.store is None:
            return
        if self.timer.running:
            self.timer.stop()
        self.flush()
        stats = self.crawler.stats
        status = "finished" if reason == "finished" else "interrupted" if reason in INTERRUPTED_REASONS else "failed"
        if status == "finished" and (outcome := getattr(spider, "outcome", None)):
            # The spider got only part of what it was asked for: ('partial' | 'failed', what is missing).
            # It staged only what it got in full, so merging that leaves the rest as it was.
            status, reason = outcome
        complete = status == "finished" and getattr(spider, "complete_crawl", False) and self._clean(stats)
        try:
            counts = self.store.merge_and_finish(
                self.store.run_id, complete=complete, status=status, reason=reason,
                stats=stats.get_stats(), duplicates=stats.get_value("dedup/duplicates", 0),
            )
        except Exception:
            # The staged rows stay for inspection; the run is not left 'running' for recovery to retry forever.
            logger.exception("Merge of crawl run %s failed; its staged items were kept", self.store.run_id)
            self.store.conn.rollback()
            self._mark_failed(reason)
            counts, status = MergeCounts(), "failed"
        stats.set_value("crawl_run/status", status)
        row = self.store.run_row(self.store.run_id)
        self.summary = (
            f"Crawl run {row['id']} {row['status']}: {row['inserted']} inserted, {row['updated']} updated, "
            f"{row['unchanged']} unchanged, {row['removed']} removed, {row['rejected']} rejected, "
            f"{row['duplicates']} duplicates"
        )
        self.store.close()

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

    def _mark_failed(self, reason):
        with self.store.conn, self.store.conn.cursor() as cur:
            cur.execute(
                "UPDATE crawl_runs SET status = 'failed', finish_reason = %s, finished_at = now() WHERE id = %s",
                (f"merge failed ({reason})", self.store.run_id),
            )
