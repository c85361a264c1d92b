"""What the spiders yield. Field names are part of the contract with the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar


@dataclass
class BookItem:
    id: int | None = None
    upc: str | None = None
    title: str | None = None
    category: str | None = None
    price: Decimal | None = None  # incl. tax
    price_excl_tax: Decimal | None = None
    price_incl_tax: Decimal | None = None
    tax: Decimal | None = None
    availability: int | None = None  # units in stock
    rating: int | None = None  # 1-5
    review_count: int | None = None
    description: str | None = None
    image_url: str | None = None
    url: str | None = None
    scraped_at: datetime | None = None

    # Identity within a run (deduplication) and where the PostgreSQL writer puts it.
    dedup_key: ClassVar[tuple[str, ...]] = ("upc",)
    staging_table: ClassVar[str] = "staging.books"
    merge_function: ClassVar[str] = "merge_books"
