from collections import Counter
from decimal import Decimal
from functools import cache

import pytest

from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS
from crawler.vitibrasil.observations import ParseError
from tests.crawler.vitibrasil.fixtures import EDITIONS, FIXTURES, needs_fixtures

# Last year each edition covers, per kind of dataset (fixtures README).
LAST_YEAR = {"csv": {"volume": 2023, "trade": 2024}, "csv-2024": {"volume": 2023, "trade": 2023},
             "csv-2024-04": {"volume": 2022, "trade": 2022}}


@cache
def parsed(edition: str, dataset: str):
    return parse_csv(dataset, (FIXTURES / edition / DATASETS[dataset].csv_name).read_bytes())


def find(edition, dataset, year, item, category=None):
    matches = [o for o in parsed(edition, dataset)
               if o.year == year and o.item == item and (category is None or o.category == category)]
    assert len(matches) == 1, matches
    return matches[0]


@needs_fixtures
@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_edition_parses_into_one_row_per_item_and_year(edition, dataset):
    spec = DATASETS[dataset]
    observations = parsed(edition, dataset)
    years = {o.year for o in observations}
    assert years == set(range(1970, LAST_YEAR[edition][spec.kind] + 1))
    per_year = Counter(o.year for o in observations)
    assert len(set(per_year.values())) == 1  # every row has every year
    assert len({(o.category, o.item, o.year) for o in observations}) == len(observations)
    if spec.is_trade:
        assert all(o.category is None and not o.is_category for o in observations)
    else:
        assert all(o.value_usd is None for o in observations)
        assert all(o.category == o.item for o in observations if o.is_category)


@needs_fixtures
def test_production_values_match_the_2023_page():
    wine = find("csv", "production", 2023, "VINHO DE MESA")
    assert (wine.is_category, wine.category, wine.quantity) == (True, "VINHO DE MESA", Decimal(169762429))
    red = find("csv", "production", 2023, "Tinto", "VINHO DE MESA")
    assert (red.is_category, red.quantity) == (False, Decimal(139320884))
    assert find("csv", "production", 2023, "Tinto", "VINHO FINO DE MESA (VINÍFERA)").quantity == 23615783


@needs_fixtures
def test_categories_come_from_control_not_from_upper_case_cultivar_names():
    iac = find("csv", "processing_american_hybrid", 2018, "IAC")
    assert (iac.is_category, iac.category) == (False, "BRANCAS E ROSADAS")
    assert find("csv", "processing_american_hybrid", 2018, "BRANCAS E ROSADAS").is_category


@needs_fixtures
def test_category_row_with_empty_control_is_still_a_category():
    # csv/Comercio.csv line 27: "26;;OUTROS PRODUTOS COMERCIALIZADOS;..."
    other = find("csv", "commercialization", 2023, "OUTROS PRODUTOS COMERCIALIZADOS")
    assert other.is_category and other.quantity == 29889342
    assert find("csv", "commercialization", 2023, "Cooler").category == "OUTROS PRODUTOS COMERCIALIZADOS"


@needs_fixtures
def test_markers():
    assert find("csv", "processing_viniferas", 2019, "TINTAS").quantity is None  # nd
    assert find("csv", "processing_viniferas", 2022, "TINTAS").quantity is None  # *
    plus = [o for o in parsed("csv", "processing_american_hybrid") if o.year == 2022 and o.quantity is None]
    assert len(plus) == 62  # 60 "*" and 2 "+"
    assert find("csv", "processing_viniferas", 2023, "TINTAS").quantity == Decimal("35881118.23")
    assert find("csv", "processing_viniferas", 2023, "Jaen").quantity == 0  # empty cell
    assert find("csv", "production", 2023, "Suco de uva reconstituído").quantity == 0  # "0"


@needs_fixtures
def test_empty_cells_are_the_zeros_later_editions_publish():
    assert find("csv-2024", "export_fresh_grapes", 1970, "Cook, Ilhas").quantity == 0  # ";;"
    assert find("csv", "export_fresh_grapes", 1970, "Cook, Ilhas").quantity == 0  # "0"
    assert find("csv-2024", "import_table_wine", 1970, "Bermudas").value_usd == 0


@needs_fixtures
def test_trade_files_pair_quantity_then_value():
    south_africa = find("csv", "import_table_wine", 2024, "África do Sul")  # "Africa do Sul" in the file
    assert (south_africa.quantity, south_africa.value_usd) == (658238, 2133775)
    argentina = find("csv-2024", "import_table_wine", 2023, "Argentina")
    assert argentina == find("csv", "import_table_wine", 2023, "Argentina")  # `;` and TAB editions agree


@needs_fixtures
def test_headerless_and_controlless_files_of_the_2024_04_edition():
    wine = find("csv-2024-04", "commercialization", 1970, "VINHO DE MESA")  # no header row
    assert wine.is_category and wine.quantity == 98327606
    assert find("csv-2024-04", "commercialization", 2022, "Tinto", "VINHO DE MESA").quantity is not None
    wine = find("csv-2024-04", "production", 1970, "VINHO DE MESA")  # no control column
    assert wine.is_category and wine.quantity == 217208604
    assert find("csv-2024-04", "production", 1970, "Tinto", "VINHO DE MESA").quantity == 174224052


@needs_fixtures
def test_mislabelled_year_pair_is_read_by_position():
    # csv-2024-04/ImpSuco.csv labels its 2022 pair "2021"; the next edition has the same 2022 figures.
    older = {o.item: o for o in parsed("csv-2024-04", "import_grape_juice") if o.year == 2022}
    newer = {o.item: o for o in parsed("csv-2024", "import_grape_juice") if o.year == 2022}
    assert older == newer


def test_decodes_windows_1252():
    data = "id;control;produto;1970;1971\n1;DERIVADOS;DERIVADOS;5;6\n2;de_Néctar;Nectar de uva;5;6\n"
    observations = parse_csv("production", data.encode("cp1252"))
    assert [o.item for o in observations] == ["DERIVADOS", "DERIVADOS", "Néctar de uva", "Néctar de uva"]
    assert observations[2].category == "DERIVADOS" and observations[3].year == 1971


@pytest.mark.parametrize("data, problem", [
    (b"<html><body>Erro</body></html>", "production: line 1: no ';' or TAB"),
    (b"", "production: empty file"),
    (b"id;control;produto;1970\n", "production: no data rows"),
    (b"id;control;produto;1970\n\n1;SUCO;SUCO;x\n", "production: line 3: not a number"),
    (b"id;control;produto;1970;1971\n1;SUCO;SUCO;5\n", "production: line 2: 4 columns, expected 5"),
    (b"id;control;produto;1970;1971\n1;SUCO;SUCO;5;12a\n", "production: line 2: not a number or known marker: '12a'"),
    (b"id;control;produto;1970;1972\n1;SUCO;SUCO;5;6\n", "production: line 1: column '1972' where year 1971 belongs"),
    (b"id;control;produto;1970\n1;SUCO;SUCO;5\n2;SUCO;SUCO;6\n", "production: line 3: duplicate row 'SUCO'"),
])
def test_unparsable_input_names_dataset_line_and_problem(data, problem):
    with pytest.raises(ParseError) as error:
        parse_csv("production", data)
    assert str(error.value).startswith(problem)


def test_trade_file_needs_year_pairs():
    with pytest.raises(ParseError, match="export_sparkling: line 1: 3 year columns, expected pairs"):
        parse_csv("export_sparkling", b"Id;Pa\xc3\xads;1970;1970;1971\n1;Chile;1;2;3\n")
