"""Reject items that break their marshmallow schema: dropped from the run, kept in ``rejects``."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.schemas import SCHEMAS


class InvalidItem(DropItem):
    """Dropped for failing validation; the PostgreSQL writer stores it in ``rejects``."""

    def __init__(self, errors: dict):
        self.errors = errors
        fields = ", ".join(sorted(errors))
        super().__init__(f"invalid item ({fields}): {errors}", log_level="WARNING")


class ValidationPipeline:
    def __init__(self, stats):
        self.stats = stats
        self.schemas = {item_class: schema() for item_class, schema in SCHEMAS.items()}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        schema = self.schemas.get(type(item))
        if schema is None:
            raise TypeError(f"no validation schema for {type(item).__name__}")
        # Every schema's item class is a plain dataclass: its __dict__ is its fields, read without
        # ItemAdapter's per-item cost (about a tenth of validating a Vitibrasil run's 57k items).
        if errors := schema.validate(vars(item)):
            self.stats.inc_value("validation/rejected")
            raise InvalidItem(errors)
        return item
