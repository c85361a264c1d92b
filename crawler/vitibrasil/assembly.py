"""One dataset's rows from what was fetched: its CSV for the years it has, year pages for the rest.

Shared by the spider and ``crawler.rebuild``, so rebuilding from stored raw
files makes exactly the rows a crawl of the same files made.
"""

from __future__ import annotations

from collections.abc import Iterable

from scrapy.http import HtmlResponse

from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import Observation, whole_units
from crawler.vitibrasil.page_parser import PageData, parse_page


def read_page(dataset: str, year: int, url: str, content_type: str | None, body: bytes) -> PageData:
    """Parse a year page from its bytes, decoded as Scrapy decodes it (header, then <meta>)."""
    headers = {"Content-Type": content_type} if content_type else {}
    return parse_page(dataset, year, HtmlResponse(url, body=body, headers=headers).text)


def combine(csv: list[Observation] | None, pages: dict[int, PageData]) -> list[Observation]:
    """The CSV's rows (full precision) for its years; page rows for years it lacks."""
    rows = list(csv or ())
    covered = {o.year for o in rows}
    for year in sorted(pages.keys() - covered):
        rows.extend(pages[year].observations)
    return rows


def total_mismatches(dataset: str, rows: Iterable[Observation], pages: dict[int, PageData]) -> list[str]:
    """Where a page's totals row differs from the sum of the rows kept for its year.

    Pages total what they show (category rows, or every row of a table without
    categories), rounded to whole units; unknown figures count for nothing.
    """
    by_year: dict[int, list[Observation]] = {}
    for o in rows:
        by_year.setdefault(o.year, []).append(o)
    problems = []
    for year, page in sorted(pages.items()):
        if year not in by_year:
            continue  # a page read only for the year range
        counted = [o for o in by_year[year] if o.is_category] or by_year[year]
        checks = [("quantity", page.total_quantity, [o.quantity for o in counted])]
        if DATASETS[dataset].is_trade:
            checks.append(("value_usd", page.total_value_usd, [o.value_usd for o in counted]))
        for column, total, figures in checks:
            added = sum((whole_units(f) for f in figures if f is not None), 0)
            if total is not None and added != total:
                problems.append(f"{dataset} {year}: page total {column} {total}, stored rows add up to {added}")
    return problems
