"""Drop items already seen in this run, by the item class's ``dedup_key``."""

from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem


class DeduplicationPipeline:
    def __init__(self, stats):
        self.stats = stats
        self.seen: set[tuple] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        adapter = ItemAdapter(item)
        key = (type(item).__name__, *(adapter.get(field) for field in item.dedup_key))
        if key in self.seen:
            self.stats.inc_value("dedup/duplicates")
            raise DropItem(f"duplicate {dict(zip(item.dedup_key, key[1:]))}", log_level="INFO")
        self.seen.add(key)
        return item
