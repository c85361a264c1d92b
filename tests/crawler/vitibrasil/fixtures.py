"""The real Vitibrasil fixtures (tests/fixtures: where they live): editions and saved pages."""

import re
from pathlib import Path

from tests.crawler.helpers import dataset_for
from tests.fixtures import VITIBRASIL as FIXTURES
from tests.fixtures import needs_vitibrasil as needs_fixtures

EDITIONS = ("csv", "csv-2024", "csv-2024-04")


def real_pages() -> list[tuple[str, int, Path]]:
    """(dataset, year, path) of every saved page, named opt_NN[_subopt_MM]_ano_YYYY.html."""
    pages = []
    for path in sorted(FIXTURES.glob("html/*.html")):
        m = re.fullmatch(r"(opt_\d+)(?:_(subopt_\d+))?_ano_(\d{4})", path.stem)
        pages.append((dataset_for(m[1], m[2]).name, int(m[3]), path))
    return pages
