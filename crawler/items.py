"""What the spiders yield. Field names are part of the contract with the database."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
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


@dataclass
class ObservationItem:
    """One figure of a Vitibrasil table (see crawler.vitibrasil.observations for NULL and 0)."""

    dataset: str | None = None
    year: int | None = None
    category: str | None = None  # None for trade tables
    item: str | None = None
    is_category: bool | None = None
    quantity: Decimal | None = None
    value_usd: Decimal | None = None  # trade tables only

    dedup_key: ClassVar[tuple[str, ...]] = ("dataset", "category", "item", "year")
    staging_table: ClassVar[str] = "staging.vitibrasil_observations"
    merge_function: ClassVar[str] = "vitibrasil.merge_observations"


@dataclass
class RawFileItem:
    """A downloaded Vitibrasil CSV or year page, kept so observations can be rebuilt without crawling."""

    sha256: str | None = None  # of body
    dataset: str | None = None
    kind: str | None = None  # "csv" or "page"
    year: int | None = None  # pages only
    url: str | None = None
    content_type: str | None = None
    # Feeds (scrapy crawl -O) cannot write bytes: they get base64 text, the database the bytes.
    body: bytes | None = field(default=None, metadata={"serializer": lambda body: base64.b64encode(body).decode()})
    fetched_at: datetime | None = None

    dedup_key: ClassVar[tuple[str, ...]] = ("sha256",)
    staging_table: ClassVar[str] = "staging.vitibrasil_raw_files"
    merge_function: ClassVar[str] = "vitibrasil.merge_raw_files"
