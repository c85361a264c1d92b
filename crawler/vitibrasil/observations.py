"""One figure of a Vitibrasil table, and the rules both parsers share.

How cells are stored (`quantity` / `value_usd`, both `Decimal | None`):

- a number is a Decimal at the precision the source publishes: CSV integers,
  CSV decimal commas ("35881118,23" -> Decimal("35881118.23")), page numbers
  with dot thousands ("1.234.567" -> Decimal("1234567")).
- "0", "-" (page) and an empty CSV cell are Decimal(0). The pages render all
  three as "-", and later CSV editions fill the earlier editions' empty cells
  with 0 (ExpUva "Cook, Ilhas" 1970-2022, ImpVinhos "Bermudas" 1970), so an
  empty cell is an unfilled zero, not an unknown.
- "nd" (não disponível: processing 2019), "*" (processing 2022) and "+"
  (two processing 2022 cells) are None: the source says the figure is unknown.

Rows: a category row (upper-case on the site: "VINHO DE MESA", "TINTAS";
`td.tb_item` on pages) is stored as an item with is_category=True and
category = its own name, so its total is kept and (dataset, category, item,
year) never holds a NULL for volume tables. Child rows carry the category row
above them. Trade tables (countries) have no categories: category None (a
unique key over (dataset, category, item, year) needs NULLS NOT DISTINCT).
A child listed before any category row (ProcessaSemclass's single row) has
category None.

Labels: whitespace is collapsed ("VINHO  FINO DE MESA" -> "VINHO FINO DE
MESA") and accent variants of one name map to its accented spelling in
`PREFERRED_LABELS` (case is kept: "VINHO ORGÂNICO" the category and "Vinho
orgânico" the product are different rows). Pages and the CSV of the same
edition always spell a label alike; the variants are across datasets and
editions, so this keeps one name per country in storage.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MISSING_MARKERS = frozenset({"nd", "*", "+"})
ZERO_MARKERS = frozenset({"", "-"})

# Accented spelling of every name the sources also spell without (or with a
# wrong) accent, across datasets and CSV editions: "Africa do Sul" in
# ImpVinhos, "África do Sul" in ExpVinho, "Grêcia" in one 2024-04 file.
PREFERRED_LABELS = (
    "África do Sul", "Antígua e Barbuda", "Arábia Saudita", "Austrália", "Áustria",
    "Bélgica", "Bósnia", "Bulgária", "Canadá", "Colômbia", "Emirados Árabes Unidos",
    "Eslovênia", "Estônia", "Geórgia", "Grécia", "Guiné Bissau", "Guiné Equatorial",
    "Índia", "Indonésia", "Islândia", "Itália", "Iugoslávia", "Letônia", "Libéria",
    "Lituânia", "Malásia", "México", "Namíbia", "Nicarágua", "Nova Zelândia",
    "Países Baixos", "Países Baixos (Holanda)", "Panamá", "Polônia", "Quênia",
    "República Dominicana", "Romênia", "Rússia", "Rússia, Federação da",
    "São Tomé e Príncipe", "Suécia", "Suíça", "Tailândia", "Tunísia",
    "Néctar de uva", "Patrícia", "VINHO FINO DE MESA (VINÍFERA)",
)


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


LABEL_ALIASES = {_without_accents(label): label for label in PREFERRED_LABELS}

_CSV_NUMBER = re.compile(r"\d+(,\d+)?")
_PAGE_NUMBER = re.compile(r"\d{1,3}(\.\d{3})*(,\d+)?")


class ParseError(ValueError):
    """Input that cannot be read as the expected Vitibrasil table."""


@dataclass(frozen=True)
class Observation:
    dataset: str
    year: int
    category: str | None
    item: str
    is_category: bool
    quantity: Decimal | None
    value_usd: Decimal | None = None  # trade datasets only


# One row of a table as a parser reads it: where it is (for errors), its label, whether it
# is a category row, and its (year, quantity, value_usd) figures, read lazily.
TableRow = tuple[str, str, bool, Iterable[tuple[int, Decimal | None, Decimal | None]]]


def assemble(dataset: str, rows: Iterable[TableRow]) -> list[Observation]:
    """The observations of a table's rows, top to bottom, for both parsers.

    A child row belongs to the category row above it; a (category, label)
    pair seen twice is a ParseError, raised before that row's figures are read.
    """
    observations, category, seen = [], None, set()
    for where, label, is_category, figures in rows:
        if is_category:
            category = label
        if (category, label) in seen:
            raise ParseError(f"{where}: duplicate row {label!r}")
        seen.add((category, label))
        observations.extend(
            Observation(dataset=dataset, year=year, category=category, item=label, is_category=is_category,
                        quantity=quantity, value_usd=value_usd)
            for year, quantity, value_usd in figures
        )
    return observations


def canonical_label(text: str) -> str:
    label = " ".join(text.split())
    return LABEL_ALIASES.get(_without_accents(label), label)


def is_category_label(label: str) -> bool:
    return label.isupper()


def parse_csv_value(cell: str) -> Decimal | None:
    """A CSV cell; raises ValueError on anything that is not a known form."""
    return _parse_value(cell, _CSV_NUMBER)


def parse_page_value(cell: str) -> Decimal | None:
    return _parse_value(cell, _PAGE_NUMBER)


def _parse_value(cell: str, number: re.Pattern) -> Decimal | None:
    text = cell.strip()
    if text in ZERO_MARKERS:
        return Decimal(0)
    if text.lower() in MISSING_MARKERS:
        return None
    if not number.fullmatch(text):
        raise ValueError(f"not a number or known marker: {text!r}")
    return Decimal(text.replace(".", "").replace(",", "."))


def whole_units(value: Decimal | None) -> Decimal | None:
    """How the year pages show a figure: rounded half up to whole units."""
    return None if value is None else value.quantize(Decimal(1), ROUND_HALF_UP)
