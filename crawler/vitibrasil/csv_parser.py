"""Parse a Vitibrasil CSV download (all years of one dataset).

Layouts seen across editions (fixtures csv/, csv-2024/, csv-2024-04/):
- UTF-8 text, `;` or TAB separated (the separator changes between editions).
- volume tables: `id;control;<label>;1970;1971;...`; the 2024-04 Producao has
  no `control` column and the 2024-04 Comercio has no header row (years then
  start at 1970). `control` is upper-case on category rows and prefixed on
  children (`vm_Tinto`, `ti_IAC138022`), so it tells categories apart from
  upper-case cultivar names ("IAC"); where it is empty (one Comercio category
  row) or absent, an upper-case label marks a category. The category of a
  child is the category row above it (prefixes repeat across categories).
- trade tables: `Id;País;1970;1970;1971;1971;...`: each year twice, quantity
  (kg) then value (US$).
Years are positional from the first year column. A header label must match
its position or repeat the previous label: csv-2024-04/ImpSuco.csv labels its
2022 pair "2021" (its values are the 2022 figures of the next edition), while
a dropped column would make labels run ahead of positions and is rejected.
Cell values follow the rules in `observations`.
"""

import csv
import re

from crawler.vitibrasil.datasets import DATASETS, FIRST_YEAR, Dataset
from crawler.vitibrasil.observations import (
    Observation,
    ParseError,
    assemble,
    canonical_label,
    is_category_label,
    parse_csv_value,
)

_YEAR = re.compile(r"\d{4}")


def parse_csv(dataset: str, data: bytes) -> list[Observation]:
    spec = DATASETS[dataset]
    rows = _rows(dataset, _decode(dataset, data))
    has_header = not rows[0][1][0].strip().isdigit()
    header, body = (rows[0][1], rows[1:]) if has_header else (None, rows)
    if not body:
        raise ParseError(f"{dataset}: no data rows")
    first = 1 + _label_columns(spec, header, body[0][1])
    per_year = 2 if spec.is_trade else 1
    if has_header:
        years = _header_years(dataset, header[first:], per_year)
    else:
        years = [FIRST_YEAR + i // per_year for i in range(len(body[0][1]) - first)]
    width = first + len(years)

    def rows():
        for line_no, row in body:
            if len(row) != width:
                raise ParseError(f"{dataset}: line {line_no}: {len(row)} columns, expected {width}")
            label = canonical_label(row[first - 1])
            if not label:
                raise ParseError(f"{dataset}: line {line_no}: empty label")
            control = row[1].strip() if first == 3 else ""
            is_category = not spec.is_trade and _is_category(control, label)
            yield f"{dataset}: line {line_no}", label, is_category, _figures(dataset, line_no, row[first:], years,
                                                                            per_year)

    return assemble(dataset, rows())


def _figures(dataset: str, line_no: int, cells: list[str], years: list[int], per_year: int):
    """(year, quantity, value_usd) of a row's cells: one cell per year, or a (kg, US$) pair."""
    values = [_value(dataset, line_no, cell) for cell in cells]
    for i in range(0, len(values), per_year):
        yield years[i], values[i], values[i + 1] if per_year == 2 else None


def _decode(dataset: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # older Embrapa exports were Windows-1252
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{dataset}: neither UTF-8 nor Windows-1252 text") from exc


def _rows(dataset: str, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of the non-blank lines."""
    lines = [(no, line) for no, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ParseError(f"{dataset}: empty file")
    first_no, first_line = lines[0]
    separator = max(";\t", key=first_line.count)
    if first_line.count(separator) < 2:
        raise ParseError(f"{dataset}: line {first_no}: no ';' or TAB separated columns")
    cells = csv.reader((line for _, line in lines), delimiter=separator)
    return [(no, row) for (no, _), row in zip(lines, cells)]


def _label_columns(spec: Dataset, header: list[str] | None, first_row: list[str]) -> int:
    """Text columns after the id: 1 (label) or 2 (control, label)."""
    if spec.is_trade:
        return 1
    if header is not None:
        return 2 if header[1].strip().lower() == "control" else 1
    try:  # no header: a value in the third column means there is no control column
        parse_csv_value(first_row[2])
        return 1
    except (ValueError, IndexError):
        return 2


def _is_category(control: str, label: str) -> bool:
    if control:
        return control.isupper() and "_" not in control
    return is_category_label(label)


def _header_years(dataset: str, labels: list[str], per_year: int) -> list[int]:
    if not labels or len(labels) % per_year:
        raise ParseError(f"{dataset}: line 1: {len(labels)} year columns, expected pairs"
                         if labels else f"{dataset}: line 1: no year columns")
    start = labels[0].strip()
    if not _YEAR.fullmatch(start):
        raise ParseError(f"{dataset}: line 1: expected a year column, found {start!r}")
    years, previous = [], None
    for i, raw in enumerate(labels):
        year = int(start) + i // per_year
        label = raw.strip()
        if label not in (str(year), previous):
            raise ParseError(f"{dataset}: line 1: column {raw!r} where year {year} belongs")
        years.append(year)
        previous = label
    return years


def _value(dataset: str, line_no: int, cell: str):
    try:
        return parse_csv_value(cell)
    except ValueError as exc:
        raise ParseError(f"{dataset}: line {line_no}: {exc}") from None
