"""The pages this app serves: ``/api/v1/openapi.json``, built by apispec from the app's own routes and the
marshmallow schemas each ``@operation`` declares (nothing is described twice); Swagger UI over it at
``/api/v1/docs`` (docs/api.md, "Interactive documentation"); the dashboard at ``/dashboard/`` (docs/dashboard.md).
Their scripts and styles come from installed packages (flask-swagger-ui, plotly's offline bundle), not a CDN: they
work on a private network. The dashboard draws from API answers only, so it goes through the API's limits.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, send_file, send_from_directory
from flask_swagger_ui import get_swaggerui_blueprint
from marshmallow import fields
from werkzeug.http import HTTP_STATUS_CODES

from api.operation import operation
from api.schemas.common import TEXT_PATTERN, ErrorSchema, figure

bp = Blueprint("docs", __name__, url_prefix="/api/v1")

# Swagger UI's page and assets (GET /api/v1/docs/<file>); not API operations (NOT_OPERATIONS).
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
        app.extensions["api.openapi"] = build(app)
    return app.extensions["api.openapi"]


@bp.get("/openapi.json")
@operation("OpenAPI document", auth=None, errors=(), content={"application/json": {"schema": {"type": "object"}}})
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


VERSION = "1.0.0"
DESCRIPTION = """\
Read-only access to the crawled books, their history, categories, crawl runs and
model-ready training data, and to Embrapa's Vitibrasil grape and wine statistics.

**Authentication**: `POST /api/v1/auth/login` with a username and password
returns an access token; send it as `Authorization: Bearer <token>`. When it
expires, `POST /api/v1/auth/refresh` with the refresh token as the Bearer token.

**Errors** all share one JSON shape (schema `Error`): `status`, `error` (a code),
`message`, and for invalid input `errors`, the messages per parameter.
Unknown query parameters are errors too, and so is text holding a NUL character
or (in JSON bodies) an unpaired surrogate: nothing can store it.

**Pagination**: `GET /api/v1/books` and `GET /api/v1/vitibrasil/observations`
return `next_cursor`; pass it back as `cursor` with the same filters and sort
until it is null.
"""
SECURITY = {"access": [{"bearer": []}], "refresh": [{"bearer": []}], "optional": [{}, {"bearer": []}], None: []}
_RULE_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
# Routes that are not API operations, left out on purpose: Swagger UI's page and assets, Prometheus' scrape,
# the dashboard's page and assets.
NOT_OPERATIONS = {"swagger_ui.show", "metrics.metrics", "dashboard.page", "dashboard.asset"}
CACHE_HEADERS = {"ETag": "Strong validator of this answer (data version and request).",
                 "Cache-Control": "private, no-cache: revalidate with If-None-Match.",
                 "X-Data-Version": "The data versions this answer reflects, e.g. books=42."}
_ERROR_TEXT = {400: "Invalid or unknown parameters", 401: "Missing, invalid or expired token",
               404: "No such resource", 413: "Request body too large", 429: "Too many requests (see Retry-After)",
               503: "Database unavailable"}


def build(app) -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Books API", version=VERSION, openapi_version="3.0.3",
                   plugins=[plugin], info={"description": DESCRIPTION})
    inputs = {schema for view in app.view_functions.values() if (declared := getattr(view, "operation", None))
              for schema in (declared.query, declared.body) if schema}

    def text_pattern(_converter, field, ret, **kwargs) -> dict:
        """What api/operation.py checks on every text input (a pattern of the schema's own comes first)."""
        if isinstance(field, fields.String) and type(field.parent) in inputs and "pattern" not in ret \
                and "enum" not in ret:
            return {"pattern": TEXT_PATTERN}
        return {}

    plugin.converter.add_attribute_function(text_pattern)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in NOT_OPERATIONS:
            continue
        declared = getattr(app.view_functions[rule.endpoint], "operation", None)
        if declared is None:
            raise RuntimeError(f"route {rule.rule} has no @operation: it would be undocumented")
        path, parameters = _path(rule)
        operations = {method.lower(): _operation(declared, rule.endpoint, parameters)
                      for method in sorted(rule.methods - {"HEAD", "OPTIONS"})}
        if declared.versions:
            _describe_caching(operations)
        spec.path(path=path, operations=operations)
    # apispec passes Decimal bounds through the field; JSON wants numbers, not strings.
    return json.loads(json.dumps(spec.to_dict(), default=figure))


def _describe_caching(operations: dict) -> None:
    """ETag, If-None-Match and 304 of an operation with data versions (api/caching.py)."""
    for operation in operations.values():
        # If-None-Match is described, not declared as a parameter: any string is accepted (a fuzzer
        # cannot make an invalid one), and the alias tests compare parameters with the brief's.
        operation["description"] += ("\n\nSend the `ETag` of an earlier answer as `If-None-Match`: 304, no body,"
                                     " while the data it came from is unchanged (token still checked).")
        operation["responses"]["200"]["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in CACHE_HEADERS.items()}
        operation["responses"]["304"] = {"description": "Not modified: the If-None-Match ETag is current."}


def _path(rule) -> tuple[str, list[dict]]:
    """"/books/<int(max=9):book_id>" -> "/books/{book_id}" and its path parameter."""
    parameters = [{"in": "path", "name": name, "required": True,
                   "schema": {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}}
                  for converter, name in _RULE_ARGUMENT.findall(rule.rule)]
    return _RULE_ARGUMENT.sub(r"{\2}", rule.rule), parameters


def _operation(declared, endpoint: str, path_parameters: list[dict]) -> dict:
    content = {"application/json": {"schema": declared.response}} if declared.response else {}
    statuses = {400, *declared.errors, *([401] if declared.auth else []), *([404] if path_parameters else [])}
    result = {
        "operationId": endpoint.replace(".", "_"),
        "tags": [endpoint.split(".")[0]],
        "summary": declared.summary,
        "description": declared.description,
        "parameters": [*path_parameters, *([{"in": "query", "schema": declared.query}]
                                           if declared.query().fields else [])],
        "responses": {"200": {"description": "OK", "content": {**content, **declared.content}},
                      **{str(s): {"description": _ERROR_TEXT.get(s, HTTP_STATUS_CODES[s]),
                                  "content": {"application/json": {"schema": "Error"}}}
                         for s in sorted(statuses)}},
        "security": SECURITY[declared.auth],
    }
    if declared.body:
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": declared.body}}}
    return result
