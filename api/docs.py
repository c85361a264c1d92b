"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the OpenAPI document, and
Swagger UI over it (Authorize with a bearer token, "Try it out").

Swagger UI's scripts and styles come from the flask-swagger-ui package, served
by this app under ``/api/v1/docs/``: no CDN, so the page works on a private
network. The hand-rolled ``@operation`` layer stays (not flask-smorest): see
docs/api.md, "Interactive documentation".
"""

from __future__ import annotations

from flask import Blueprint, current_app
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
