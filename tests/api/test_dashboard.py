"""/dashboard/: the page and its assets, plotly.js included, served by the API's app without a token."""

from __future__ import annotations

from tests.api.helpers import assert_error


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for asset in ("assets/plotly.min.js", "assets/dashboard.js", "assets/dashboard.css"):
        assert f'"{asset}"' in html
        response = client.get(f"/dashboard/{asset}")
        assert response.status_code == 200, asset
    plotly = client.get("/dashboard/assets/plotly.min.js")
    assert plotly.mimetype == "text/javascript" and b"plotly.js v" in plotly.get_data()[:200]
    assert plotly.cache_control.max_age == 7 * 86400 and plotly.headers["ETag"]
    assert client.get("/dashboard/assets/plotly.min.js", headers={"If-None-Match": plotly.headers["ETag"]}
                      ).status_code == 304
    assert client.get("/dashboard").status_code == 308  # to /dashboard/


def test_nothing_else_is_served_from_there(client):
    assert_error(client.get("/dashboard/assets/nope.js"), 404)
    assert_error(client.get("/dashboard/assets/../dashboard.py"), 404)


def test_the_dashboard_is_not_an_api_operation(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path.startswith("/dashboard")]
