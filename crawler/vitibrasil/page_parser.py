"""Parse one Vitibrasil year page (`index.php?opcao=...&ano=YYYY`).

The data sits in `table.tb_dados`: volume tables mark category rows with
`td.tb_item` and their children with `td.tb_subitem`; trade tables have plain
cells (country, quantity kg, value US$). `tfoot.tb_total` holds the totals the
site computes (sum of category rows, or of all countries). Pages show whole
units only, so a CSV decimal appears rounded half up (`observations.whole_units`).
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from parsel import Selector

from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import (
    Observation,
    ParseError,
    assemble,
    canonical_label,
    parse_page_value,
)

_YEAR_RANGE = re.compile(r"Ano:\s*\[(\d{4})\s*-\s*(\d{4})\]")


@dataclass(frozen=True)
class PageData:
    observations: list[Observation]
    total_quantity: Decimal | None  # tfoot.tb_total; None when the site shows a marker
    total_value_usd: Decimal | None  # trade datasets only
    years: range  # years the tab offers, from "Ano: [1970-2024]"
    csv_href: str  # relative, e.g. "download/Producao.csv"


def parse_page(dataset: str, year: int, html: str) -> PageData:
    spec = DATASETS[dataset]
    page = Selector(text=html)
    table = page.css("table.tb_dados")
    if not table:
        raise ParseError(f"{dataset} {year}: no table.tb_dados on the page")
    width = 3 if spec.is_trade else 2

    def rows():
        for row_no, row in enumerate(table.css("tbody > tr"), 1):
            cells = [_text(td) for td in row.css("td")]
            if len(cells) != width:
                raise ParseError(f"{dataset} {year}: row {row_no}: {len(cells)} cells, expected {width}")
            label = canonical_label(cells[0])
            is_category = not spec.is_trade and "tb_item" in row.css("td").attrib.get("class", "")
            yield f"{dataset} {year}: row {row_no}", label, is_category, _figures(dataset, year, row_no, cells[1:])

    observations = assemble(dataset, rows())
    totals = [_text(td) for td in table.css("tfoot.tb_total td")][1:]
    if len(totals) != width - 1:
        raise ParseError(f"{dataset} {year}: totals row has {len(totals)} values")
    totals = [_value(dataset, year, "total", cell) for cell in totals]

    offered = _YEAR_RANGE.search(" ".join(page.css("label.lbl_pesq::text").getall()))
    if not offered:
        raise ParseError(f"{dataset} {year}: no 'Ano: [first-last]' year range")
    csv_href = page.css("a.footer_content[href*='download/']::attr(href)").get()
    if not csv_href:
        raise ParseError(f"{dataset} {year}: no download link")
    return PageData(
        observations=observations,
        total_quantity=totals[0],
        total_value_usd=totals[1] if spec.is_trade else None,
        years=range(int(offered[1]), int(offered[2]) + 1),
        csv_href=csv_href,
    )


def _figures(dataset: str, year: int, row_no: int, cells: list[str]):
    """The one (year, quantity, value_usd) of a row: quantity, or (kg, US$) in trade tables."""
    values = [_value(dataset, year, row_no, cell) for cell in cells]
    yield year, values[0], values[1] if len(values) == 2 else None


def _text(cell: Selector) -> str:
    return " ".join(" ".join(cell.css("::text").getall()).split())


def _value(dataset: str, year: int, row, cell: str):
    try:
        return parse_page_value(cell)
    except ValueError as exc:
        raise ParseError(f"{dataset} {year}: row {row}: {exc}") from None
