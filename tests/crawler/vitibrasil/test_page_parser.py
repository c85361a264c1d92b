from decimal import Decimal
from functools import cache

import pytest

from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import ParseError
from crawler.vitibrasil.page_parser import parse_page
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures, real_pages
from tests.crawler.helpers import as_shown_on_page

PAGES = real_pages()


@cache
def page(dataset: str, year: int):
    [path] = [p for d, y, p in PAGES if (d, y) == (dataset, year)]
    return parse_page(dataset, year, path.read_text(encoding="utf-8"))


def item(data, name, category=None):
    [match] = [o for o in data.observations if o.item == name and (category is None or o.category == category)]
    return match


@needs_fixtures
@pytest.mark.parametrize("dataset, year, path", PAGES, ids=[p.stem for _, _, p in PAGES])
def test_page_equals_the_2025_csv_edition_for_its_year(dataset, year, path):
    # Every saved page matches csv/ (the 2025 edition) exactly, at page precision
    # (CSV decimal commas appear rounded to whole units on pages).
    data = parse_page(dataset, year, path.read_text(encoding="utf-8"))
    csv = parse_csv(dataset, (FIXTURES / "csv" / DATASETS[dataset].csv_name).read_bytes())
    assert data.observations == [as_shown_on_page(o) for o in csv if o.year == year]


@needs_fixtures
@pytest.mark.parametrize("dataset, year, path", PAGES, ids=[p.stem for _, _, p in PAGES])
def test_totals_row_adds_up(dataset, year, path):
    data = parse_page(dataset, year, path.read_text(encoding="utf-8"))
    counted = [o for o in data.observations if o.is_category] or data.observations
    assert data.total_quantity == sum(o.quantity for o in counted)
    if DATASETS[dataset].is_trade:
        assert data.total_value_usd == sum(o.value_usd for o in counted)
    assert data.csv_href == f"download/{DATASETS[dataset].csv_name}"


@needs_fixtures
def test_production_page():
    data = page("production", 2023)
    wine = item(data, "VINHO DE MESA")
    assert (wine.is_category, wine.category, wine.quantity, wine.value_usd) == (True, "VINHO DE MESA", 169762429, None)
    assert item(data, "Tinto", "VINHO DE MESA").quantity == 139320884
    assert item(data, "Tinto", "VINHO FINO DE MESA (VINÍFERA)").quantity == 23615783
    assert item(data, "Suco de uva reconstituído").quantity == Decimal(0)  # "-"
    assert data.total_quantity == 457792870
    assert data.years == range(1970, 2024)


@needs_fixtures
def test_decimal_csv_figures_are_rounded_on_the_page():
    assert item(page("processing_viniferas", 2023), "TINTAS").quantity == 35881118  # CSV 35881118,23
    assert item(page("processing_viniferas", 2023), "Colombard").quantity == 374903  # CSV 374902,95


@needs_fixtures
def test_trade_page():
    data = page("import_table_wine", 2024)
    argentina = item(data, "Argentina")
    assert (argentina.category, argentina.quantity, argentina.value_usd) == (None, 26272478, 93869579)
    assert item(data, "África do Sul").quantity == 658238  # the page says "Africa do Sul"
    assert item(data, "Argélia").value_usd == 0  # "-"
    assert (data.total_quantity, data.total_value_usd) == (153122230, 481082975)
    assert data.years == range(1970, 2025)


def test_page_without_data_table_is_an_error():
    with pytest.raises(ParseError, match="production 2023: no table.tb_dados"):
        parse_page("production", 2023, "<html><body><h1>Service Unavailable</h1></body></html>")


def test_trade_row_needs_both_values():
    html = ("<table class='tb_base tb_dados'><tbody><tr><td>Chile</td><td>12</td></tr></tbody>"
            "<tfoot class='tb_total'><tr><td>Total</td><td>12</td><td>3</td></tr></tfoot></table>")
    with pytest.raises(ParseError, match="import_table_wine 2000: row 1: 2 cells, expected 3"):
        parse_page("import_table_wine", 2000, html)
