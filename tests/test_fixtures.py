"""``python -m tests.fixtures fetch`` against local copies of the three sources, and a clone without
../shared that gets its fixtures that way and runs the tests that read them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.cluster import free_port
from tests.fixtures import BOOKS, MANIFEST, VITIBRASIL, needs_books, needs_vitibrasil
from tests.fixtures.fetch import EDITIONS, VITIBRASIL_DOWNLOADS, fetch, read_manifest
from tests.helpers import ROOT
from tests.sites.books import BooksSite, real_books, serve

pytestmark = [needs_books, needs_vitibrasil]
NOT_FOUND = (404, "text/html", b"<h1>Not Found</h1>")


class SavedPages:
    """Embrapa's tab pages, answered with the saved ones (index.php?opcao=...&subopcao=...&ano=...)."""

    def respond(self, target: str) -> tuple[int, str, bytes]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        name = "_".join(filter(None, (query.get("opcao"), query.get("subopcao")))) + f"_ano_{query.get('ano')}.html"
        path = VITIBRASIL / "html" / name
        return (200, "text/html", path.read_bytes()) if path.is_file() else NOT_FOUND


class Archive:
    """The Wayback Machine's raw captures (web/<timestamp>id_/<url>) of the saved CSV editions."""

    def respond(self, target: str) -> tuple[int, str, bytes]:
        editions = {stamp: folder for folder, stamp in EDITIONS.items()}
        stamp, _, url = target.removeprefix("/web/").partition("id_/")
        path = VITIBRASIL / editions.get(stamp, "-") / url.removeprefix(VITIBRASIL_DOWNLOADS)
        return (200, "text/plain", path.read_bytes()) if url.startswith(VITIBRASIL_DOWNLOADS) and path.is_file() \
            else NOT_FOUND


@pytest.fixture(scope="module")
def sources():
    books = BooksSite(real_books(BOOKS), real_templates=BOOKS / "site")
    with serve(books) as site, serve(SavedPages()) as pages, serve(Archive()) as archive:
        yield {"books": site, "vitibrasil": pages, "archive": archive}


def test_a_changed_or_unreachable_source_is_reported_and_nothing_of_it_written(sources, tmp_path):
    manifest = read_manifest(MANIFEST)
    some = {name: manifest[name] for name in ("vitibrasil/csv-2024/Producao.csv", "vitibrasil/html/opt_02_ano_2023.html")}
    changed = {"vitibrasil/csv/Comercio.csv": "0" * 64}
    dead = f"http://127.0.0.1:{free_port()}/"
    written, problems = fetch(tmp_path, {**some, **changed}, sources)
    assert written == 2 and problems == [f"vitibrasil/csv/Comercio.csv: sha256 {manifest['vitibrasil/csv/Comercio.csv'][:12]}…"
                                         f" is not the manifest's {'0' * 12}… (the source changed?)"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(some)
    # Files already there with their digest are not downloaded again, even with the sources gone.
    assert fetch(tmp_path, some, {"vitibrasil": dead, "archive": dead}) == (0, [])
    written, problems = fetch(tmp_path / "other", some, {**sources, "vitibrasil": dead})
    assert written == 1 and problems[0].startswith(
        f"vitibrasil/html/opt_02_ano_2023.html: not downloaded ({dead}index.php?opcao=opt_02&ano=2023: ")


def test_a_clone_without_shared_fetches_the_fixtures_and_runs_the_tests_that_read_them(sources, db_url, tmp_path):
    clone = tmp_path / "clone"  # no ../shared beside it
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    # The clone's tests create their database on this session's server, not in an embedded one of their own.
    env = {**{k: v for k, v in os.environ.items() if k != "FIXTURES_DIR"}, "TEST_DATABASE_URL": db_url}
    urls = [arg for name, url in sources.items() for arg in (f"--{name}-url", url)]
    fetched = subprocess.run([sys.executable, "-m", "tests.fixtures", "fetch", *urls], cwd=clone, env=env,
                             capture_output=True, text=True, timeout=300)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    assert fetched.stdout.strip() == f"{clone / '.fixtures'}: 275 of 275 files checked (275 downloaded)"

    # A quick share of what reads them: the parsers on every saved page and CSV edition, the local site
    # rebuilt from the real pages, a real crawl of it into the database.
    tests = ["tests/crawler/spiders/test_books_parse.py", "tests/crawler/vitibrasil/test_csv_parser.py",
             "tests/crawler/vitibrasil/test_page_parser.py", "tests/sites/test_books.py::test_real_templates_reproduce_the_real_pages",
             "tests/crawler/test_books_crawl.py::test_site_built_from_the_real_pages_lands_all_1000_books_exactly"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rs", *tests],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-3000:]
