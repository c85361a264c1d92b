
import pytest

from crawler.vitibrasil.csv_parser import parse_csv
from crawler.vitibrasil.datasets import DATASETS, csv_url, page_url
from crawler.vitibrasil.observations import ParseError
from crawler.vitibrasil.page_parser import parse_page
from tests.crawler.vitibrasil.fixtures import FIXTURES, needs_fixtures
from tests.crawler.helpers import as_shown_on_page
from tests.helpers import fetch
from tests.sites.server import serve
from tests.sites.vitibrasil import VitibrasilSite

pytestmark = needs_fixtures


@pytest.fixture(scope="module")
def site():
    return VitibrasilSite(FIXTURES / "csv")


@pytest.fixture(scope="module")
def base_url(site):
    with serve(site) as url:
        yield url


@pytest.mark.parametrize("dataset", DATASETS)
def test_rendered_pages_parse_back_to_the_csv_observations(site, base_url, dataset):
    status, content_type, body = fetch(csv_url(base_url, dataset))
    assert (status, content_type) == (200, "text/csv")
    csv = parse_csv(dataset, body)
    last = max(o.year for o in csv)
    for year in (1970, 1999, 2019, 2022, last):
        status, content_type, body = fetch(page_url(base_url, dataset, year))
        assert (status, content_type) == (200, "text/html; charset=UTF-8")
        data = parse_page(dataset, year, body.decode("utf-8"))
        assert data.observations == [as_shown_on_page(o) for o in csv if o.year == year]
        assert data.years == range(1970, last + 1)
        assert data.csv_href == f"download/{DATASETS[dataset].csv_name}"
        counted = [o for o in data.observations if o.is_category] or data.observations
        assert data.total_quantity == sum(o.quantity for o in counted if o.quantity is not None)


def test_rendered_page_looks_like_the_real_one(base_url):
    _, _, body = fetch(page_url(base_url, "production", 2023))
    real = (FIXTURES / "html" / "opt_02_ano_2023.html").read_text(encoding="utf-8")
    html = body.decode("utf-8")
    for fragment in ("<meta charset=\"UTF-8\">", "<table class='tb_base tb_dados'>",
                     "<td class='tb_item'>", "<td class='tb_subitem'>", "<tfoot class='tb_total'>",
                     "Ano: [1970-2023]", "href='download/Producao.csv'", "169.762.429", "457.792.870"):
        assert fragment in real and fragment in html
    assert "\n-\n" in html  # zero shown as "-"


def test_real_page_matches_its_rendering(base_url):
    real = parse_page("import_table_wine", 2024, (FIXTURES / "html" / "opt_05_subopt_01_ano_2024.html")
                      .read_text(encoding="utf-8"))
    _, _, body = fetch(page_url(base_url, "import_table_wine", 2024))
    assert parse_page("import_table_wine", 2024, body.decode()) == real


def test_year_defaults_to_latest_and_is_clamped(base_url):
    _, _, body = fetch(f"{base_url}index.php?opcao=opt_02")
    assert "Produção de vinhos, sucos e derivados [2023]" in body.decode()
    _, _, body = fetch(f"{base_url}index.php?opcao=opt_05&subopcao=subopt_02&ano=1900")
    assert "Importação de espumantes [1970]" in body.decode()


def test_unknown_paths_are_404(base_url):
    assert fetch(f"{base_url}download/Nada.csv")[0] == 404
    assert fetch(f"{base_url}index.php?opcao=opt_09")[0] == 404


def test_knobs():
    site = VitibrasilSite(FIXTURES / "csv-2024", missing_csv={"production"}, broken_csv={"export_sparkling"})
    with serve(site) as base_url:
        assert fetch(csv_url(base_url, "production"))[0] == 404
        status, _, body = fetch(csv_url(base_url, "export_sparkling"))
        assert status == 200
        with pytest.raises(ParseError, match="export_sparkling: line 1"):
            parse_csv("export_sparkling", body)
        assert fetch(page_url(base_url, "production", 2000))[0] == 200  # pages still work
        site.down = True
        assert fetch(page_url(base_url, "production", 2000))[0] == 503
        assert fetch(csv_url(base_url, "commercialization"))[0] == 503
    assert site.requests["/download/Producao.csv"] == 1
    assert site.requests["/index.php?opcao=opt_02&ano=2000"] == 2


def test_older_edition_offers_its_own_years():
    site = VitibrasilSite(FIXTURES / "csv-2024-04")
    with serve(site) as base_url:
        _, _, body = fetch(page_url(base_url, "import_grape_juice", 2022))
        data = parse_page("import_grape_juice", 2022, body.decode())
    assert data.years == range(1970, 2023)
