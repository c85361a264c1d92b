"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the OpenAPI document, and the
same rendered as plain HTML on the server (no scripts, no CDN: works offline)."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template

from api import openapi
from api.operation import operation

bp = Blueprint("docs", __name__, url_prefix="/api/v1", template_folder="templates")

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


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
    """The OpenAPI document as a readable HTML page."""
    document = spec()
    operations = [(path, method, op) for path, item in document["paths"].items()
                  for method in METHOD_ORDER if (op := item.get(method))]
    return current_app.response_class(
        render_template("docs.html", doc=document, operations=operations,
                        schemas=document["components"]["schemas"], type_of=type_of),
        mimetype="text/html",
    )


def type_of(schema: dict) -> str:
    """A short human type: "Book", "array of Book", "integer (1, 2) or null"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return "array of " + type_of(schema.get("items", {}))
    text = schema.get("type", "any")
    if "format" in schema:
        text += f" ({schema['format']})"
    if "enum" in schema:
        text += ": one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    if "minimum" in schema or "maximum" in schema:
        text += f" [{schema.get('minimum', '')}..{schema.get('maximum', '')}]"
    if "default" in schema:
        text += f", default {json.dumps(schema['default'])}"
    return text + (" or null" if schema.get("nullable") else "")
