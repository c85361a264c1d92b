"""The pages this app serves: ``/api/v1/openapi.json``, Swagger UI over it at ``/api/v1/docs`` (docs/api.md,
"Interactive documentation"), and the dashboard at ``/dashboard/`` (docs/dashboard.md). Their scripts and styles
are served from installed packages (flask-swagger-ui, plotly's offline bundle), not a CDN: they work on a private
network. The dashboard draws from API answers only, so it has no database role and goes through the API's limits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, current_app, send_file, send_from_directory
from flask_swagger_ui import get_swaggerui_blueprint

from api import openapi
from api.operation import operation

bp = Blueprint("docs", __name__, url_prefix="/api/v1")

# Swagger UI's page and assets (GET /api/v1/docs/<file>); not API operations (openapi.NOT_OPERATIONS).
assets = get_swaggerui_blueprint("/api/v1/docs", "/api/v1/openapi.json", blueprint_name="swagger_ui", config={
    "app_name": "Books API",
    "layout": "BaseLayout",  # no top bar for loading other documents
    "validatorUrl": None,  # Swagger UI's default would fetch a badge from the internet
    "displayRequestDuration": True,
})


def spec() -> dict:
    """Built once per app, on first use (every blueprint is registered by then)."""
    app = current_app._get_current_object()
    if "api.openapi" not in app.extensions:
        app.extensions["api.openapi"] = openapi.build(app)
    return app.extensions["api.openapi"]


@bp.get("/openapi.json")
@operation("OpenAPI document", auth=None, errors=(),
           content={"application/json": {"schema": {"type": "object"}}})
def openapi_document():
    """This API described in OpenAPI 3.0, generated from its routes and schemas."""
    return current_app.json.response(spec())


@bp.get("/docs")
@operation("Documentation page", auth=None, errors=(), content={"text/html": {"schema": {"type": "string"}}})
def docs_page():
    """Swagger UI over openapi.json: every operation, its parameters and schemas. Authorize
    with an access token from POST /api/v1/auth/login, then "Try it out" on any operation."""
    page = current_app.view_functions["swagger_ui.show"]()
    return current_app.response_class(page, mimetype="text/html")


dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard")
ASSETS = Path(__file__).with_name("dashboard_assets")
# Located without importing plotly: the web process needs the file, not the Python package.
PLOTLY_JS = Path(importlib.util.find_spec("plotly").submodule_search_locations[0]) / "package_data" / "plotly.min.js"
PLOTLY_MAX_AGE = 7 * 86400  # versioned by the package: a deploy that upgrades it changes its ETag too


@dashboard.get("/")
def page():
    return send_from_directory(ASSETS, "index.html", max_age=0)


@dashboard.get("/assets/<path:name>")
def asset(name: str):
    if name == "plotly.min.js":
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=PLOTLY_MAX_AGE)
    return send_from_directory(ASSETS, name, max_age=0)
