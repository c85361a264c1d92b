"""Where the real Vitibrasil fixtures live (../shared/fixtures, read-only)."""

import re
from pathlib import Path

import pytest

from tests.crawler.helpers import dataset_for

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "vitibrasil"
EDITIONS = ("csv", "csv-2024", "csv-2024-04")

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="no ../shared/fixtures/vitibrasil")


def real_pages() -> list[tuple[str, int, Path]]:
    """(dataset, year, path) of every saved page, named opt_NN[_subopt_MM]_ano_YYYY.html."""
    pages = []
    for path in sorted(FIXTURES.glob("html/*.html")):
        m = re.fullmatch(r"(opt_\d+)(?:_(subopt_\d+))?_ano_(\d{4})", path.stem)
        pages.append((dataset_for(m[1], m[2]).name, int(m[3]), path))
    return pages
