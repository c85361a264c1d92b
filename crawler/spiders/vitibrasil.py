"""Embrapa Vitibrasil: the 15 grape and wine datasets, from their CSV downloads or their year pages.

Per dataset: the 1970 page (every series starts then) gives the years the tab
offers and the CSV link; the CSV gives every year at once. Years the CSV
cannot give (404, error, unparsable, or simply absent) are read from the year
pages. A dataset's rows and raw files are yielded together once everything
it needs has arrived, never in part: a dataset that cannot be fetched leaves
its stored rows untouched, and the run ends 'partial' ('failed' when no
dataset could be fetched) naming what is missing (see ``outcome``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import scrapy
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy_spider_metadata import Args

from crawler.items import ObservationItem, RawFileItem
from crawler.spiders.base import ProjectSpider
from crawler.spiders.params import SiteUrl
from crawler.vitibrasil.assembly import combine, read_page, total_mismatches
from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS, FIRST_YEAR, csv_url, page_url
from crawler.vitibrasil.observations import Observation, ParseError
from crawler.vitibrasil.page_parser import PageData

LIVE_SITE = "http://vitibrasil.cnpuv.embrapa.br/"


class VitibrasilArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: SiteUrl = Field(
        default=LIVE_SITE,
        title="Base URL",
        description="Root of the Vitibrasil site; point it at a local copy for tests.",
    )
    datasets: list[str] | None = Field(
        default=None,
        title="Datasets",
        description="Comma-separated dataset names to crawl, e.g. 'production,export_table_wine'; all 15 when unset.",
    )
    from_year: int | None = Field(default=None, ge=FIRST_YEAR, le=2100, title="From year",
                                  description="First year to store; from 1970 when unset.")
    to_year: int | None = Field(default=None, ge=FIRST_YEAR, le=2100, title="To year",
                                description="Last year to store; up to the latest the site offers when unset.")

    @field_validator("datasets", mode="before")
    @classmethod
    def _split(cls, value):
        return [name.strip() for name in value.split(",") if name.strip()] if isinstance(value, str) else value

    @field_validator("datasets")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if unknown := [name for name in value if name not in DATASETS]:
            raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
        if not value:
            raise ValueError("must name at least one dataset")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _ordered_years(self):
        if self.from_year is not None and self.to_year is not None and self.from_year > self.to_year:
            raise ValueError(f"from_year {self.from_year} is after to_year {self.to_year}")
        return self


@dataclass
class DatasetFetch:
    """What one dataset's requests brought back, until it is yielded in full or given up."""

    name: str
    offered: range | None = None  # years the tab offers, from its first page
    csv: list[Observation] | None = None
    pages: dict[int, PageData] = field(default_factory=dict)
    files: list[RawFileItem] = field(default_factory=list)
    awaited: set[int] = field(default_factory=set)  # years whose page is on its way
    first_page_error: str | None = None
    error: str | None = None
    stored: bool = False

    @property
    def done(self) -> bool:
        return self.stored or self.error is not None


class VitibrasilSpider(Args[VitibrasilArgs], ProjectSpider):
    name = "vitibrasil"
    # Removal is scoped to the (dataset, year) tables a run read in full, so
    # every run is complete in what it read (see vitibrasil.merge_observations).
    complete_crawl = True
    custom_settings = {
        "POSTGRES_BATCH_SIZE": 2000,
        # The live site is slow and often down: wait long, retry with growing pauses, stay gentle.
        "DOWNLOAD_TIMEOUT": 180,
        "RETRY_TIMES": 5,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 520, 521, 522, 523, 524, 408, 429],
        "RETRY_BACKOFF_BASE": 5.0,
        "RETRY_BACKOFF_MAX": 120.0,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.backoff.BackoffRetryMiddleware": 550,
        },
        "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_domains = [urlsplit(self.args.base_url).hostname]
        self.fetches = {name: DatasetFetch(name) for name in self.args.datasets or DATASETS}

    @property
    def outcome(self) -> tuple[str, str] | None:
        """('partial' | 'failed', what is missing) when a dataset could not be stored; None when all were."""
        missing = [f for f in self.fetches.values() if not f.stored]
        if not missing:
            return None
        status = "failed" if len(missing) == len(self.fetches) else "partial"
        named = "; ".join(f"{f.name} ({f.error or 'not fetched'})" for f in missing)
        return status, f"{len(missing)} of {len(self.fetches)} datasets not stored: {named}"

    async def start(self):
        for name in self.fetches:
            yield scrapy.Request(page_url(self.args.base_url, name, FIRST_YEAR), callback=self.parse_first_page,
                                 errback=self.first_page_failed, cb_kwargs={"dataset": name})

    def parse_first_page(self, response, dataset: str):
        fetch = self.fetches[dataset]
        try:
            page = self._read_page(fetch, response, FIRST_YEAR)
        except ParseError as exc:
            yield from self._without_first_page(fetch, f"page {FIRST_YEAR} unreadable: {exc}")
            return
        fetch.offered = page.years
        yield self._csv_request(dataset, response.urljoin(page.csv_href))

    def first_page_failed(self, failure):
        fetch = self.fetches[failure.request.cb_kwargs["dataset"]]
        yield from self._without_first_page(fetch, f"page {FIRST_YEAR}: {_reason(failure)}")

    def _without_first_page(self, fetch: DatasetFetch, reason: str):
        # The CSV alone can still give the dataset (with no year range, no pages to fall back on).
        fetch.first_page_error = reason
        self.logger.warning("%s: %s; trying its CSV at the usual address", fetch.name, reason)
        yield self._csv_request(fetch.name, csv_url(self.args.base_url, fetch.name))

    def _csv_request(self, dataset: str, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_csv, errback=self.csv_failed, cb_kwargs={"dataset": dataset})

    def parse_csv(self, response, dataset: str):
        fetch = self.fetches[dataset]
        fetch.files.append(_raw_file(dataset, "csv", None, response))
        try:
            fetch.csv = parse_csv(dataset, response.body)
        except ParseError as exc:
            yield from self._without_csv(fetch, f"CSV unreadable: {exc}")
            return
        yield from self._read_missing_years(fetch)

    def csv_failed(self, failure):
        fetch = self.fetches[failure.request.cb_kwargs["dataset"]]
        yield from self._without_csv(fetch, f"CSV {failure.request.url}: {_reason(failure)}")

    def _without_csv(self, fetch: DatasetFetch, reason: str):
        self.crawler.stats.inc_value("vitibrasil/csv_unavailable")
        if fetch.offered is None:
            self._fail(fetch, f"{fetch.first_page_error}; {reason}")
            return
        self.logger.warning("%s: %s; reading its year pages instead", fetch.name, reason)
        yield from self._read_missing_years(fetch)

    def _read_missing_years(self, fetch: DatasetFetch):
        """Request the pages of wanted years the CSV lacks, or yield the dataset when there are none."""
        have = {o.year for o in fetch.csv or ()} | fetch.pages.keys()
        fetch.awaited = {y for y in fetch.offered or () if self._wanted(y) and y not in have}
        if fetch.csv is not None and fetch.awaited:
            self.logger.info("%s: the CSV lacks %s; reading those year pages", fetch.name, _years(fetch.awaited))
        for year in sorted(fetch.awaited):
            yield scrapy.Request(page_url(self.args.base_url, fetch.name, year), callback=self.parse_year_page,
                                 errback=self.year_page_failed, cb_kwargs={"dataset": fetch.name, "year": year})
        if not fetch.awaited:
            yield from self._store(fetch)

    def parse_year_page(self, response, dataset: str, year: int):
        fetch = self.fetches[dataset]
        if fetch.done:
            return
        try:
            self._read_page(fetch, response, year)
        except ParseError as exc:
            self._fail(fetch, f"page {year} unreadable: {exc}")
            return
        fetch.awaited.discard(year)
        if not fetch.awaited:
            yield from self._store(fetch)

    def year_page_failed(self, failure):
        kwargs = failure.request.cb_kwargs
        self._fail(self.fetches[kwargs["dataset"]], f"page {kwargs['year']}: {_reason(failure)}")

    def _read_page(self, fetch: DatasetFetch, response, year: int) -> PageData:
        file = _raw_file(fetch.name, "page", year, response)
        page = read_page(fetch.name, year, file.url, file.content_type, file.body)
        fetch.files.append(file)
        fetch.pages[year] = page
        return page

    def _store(self, fetch: DatasetFetch):
        fetch.stored = True
        yield from fetch.files
        yield from observation_items(self, fetch.name, fetch.csv, fetch.pages, self._wanted)
        fetch.files, fetch.pages, fetch.csv = [], {}, None  # free the bodies

    def _fail(self, fetch: DatasetFetch, reason: str) -> None:
        if fetch.done:
            return
        fetch.error = reason
        fetch.files, fetch.pages, fetch.csv = [], {}, None
        self.logger.error("Dataset %s not stored, its rows are left as they were: %s", fetch.name, reason)
        self.crawler.stats.set_value("vitibrasil/not_stored", sorted(f.name for f in self.fetches.values() if f.error))

    def _wanted(self, year: int) -> bool:
        return (self.args.from_year or FIRST_YEAR) <= year <= (self.args.to_year or year)


def observation_items(spider: scrapy.Spider, dataset: str, csv: list[Observation] | None,
                      pages: dict[int, PageData], wanted: Callable[[int], bool]) -> Iterator[ObservationItem]:
    """One dataset's items from what was read of it, its page totals checked and its source counted.

    Shared by this spider and ``crawler.rebuild``, so rebuilding from stored raw
    files yields exactly the items a crawl of the same files yielded.
    """
    rows = [o for o in combine(csv, pages) if wanted(o.year)]
    stats = spider.crawler.stats
    for problem in total_mismatches(dataset, rows, pages):
        stats.inc_value("vitibrasil/total_mismatches")
        spider.logger.warning("Totals do not add up: %s", problem)
    from_pages = {o.year for o in rows} - {o.year for o in csv or ()}
    source = "pages" if csv is None else "csv_and_pages" if from_pages else "csv"
    spider.logger.info("%s: %d rows for %s from %s%s", dataset, len(rows), _years({o.year for o in rows}),
                       source, f" (pages {_years(from_pages)})" if source == "csv_and_pages" else "")
    stats.inc_value("vitibrasil/datasets_stored")
    stats.inc_value(f"vitibrasil/datasets_from/{source}")
    for o in rows:
        yield ObservationItem(**vars(o))


def _raw_file(dataset: str, kind: str, year: int | None, response) -> RawFileItem:
    return RawFileItem(
        sha256=hashlib.sha256(response.body).hexdigest(), dataset=dataset, kind=kind, year=year,
        url=response.url, content_type=response.headers.get("Content-Type", b"").decode("latin-1") or None,
        body=response.body, fetched_at=datetime.now(timezone.utc),
    )


def _reason(failure) -> str:
    if failure.check(HttpError):
        response = failure.value.response
        return f"HTTP {response.status}"
    return failure.getErrorMessage() or failure.type.__name__


def _years(years) -> str:
    """{1970, 1971, 1972, 2024} -> '1970-1972, 2024'."""
    spans: list[list[int]] = []
    for year in sorted(years):
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans) or "no years"
