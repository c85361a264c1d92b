"""/api/v1/docs is Swagger UI over /api/v1/openapi.json, its assets served by this app
(the browser test, test_docs_browser.py, drives it in Chromium)."""

from __future__ import annotations

import json
import re

import pytest


@pytest.mark.parametrize("path", ["/api/v1/docs", "/api/v1/docs/"])
def test_page_loads_swagger_ui_from_this_app_only(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/api/v1/docs/swagger-ui-bundle.js" in assets and "/api/v1/docs/swagger-ui.css" in assets
    assert all(url.startswith("/api/v1/docs/") for url in assets), assets
    config = json.loads(re.search(r"var user_config = (\{.*?\});", html).group(1))
    assert config["url"] == "/api/v1/openapi.json"
    assert config["validatorUrl"] is None  # Swagger UI's default fetches a badge from the internet


def test_assets_are_served(client):
    script = client.get("/api/v1/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert b"SwaggerUIBundle" in script.data
    assert client.get("/api/v1/docs/swagger-ui.css").mimetype == "text/css"
    assert client.get("/api/v1/docs/no-such-file.js").status_code == 404


def test_document_offers_bearer_authorization(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer",
                                                                    "bearerFormat": "JWT"}
    assert not any(path.startswith("/api/v1/docs/") for path in document["paths"])
