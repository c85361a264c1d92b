"""``@operation``: what an endpoint takes and returns, declared once.

It checks the token, parses the query string and body with marshmallow,
dumps the view's result with the response schema, and leaves the declaration
on the view for the OpenAPI document.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

from flask import Response, g, jsonify, request
from flask_jwt_extended import verify_jwt_in_request
from marshmallow import Schema, ValidationError

from api.errors import ApiError
from api.schemas.common import UNSTORABLE, NoQuery, storable


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    response: type[Schema] | None
    query: type[Schema]
    body: type[Schema] | None
    auth: str | None  # "access", "refresh", "optional" (public, more with a valid token) or None (public)
    errors: tuple[int, ...]  # statuses beyond those implied (400 always, 401 with auth, 404 with path ids)
    content: dict = field(default_factory=dict)  # extra media types of the 200 answer


def operation(summary: str, *, response: type[Schema] | None = None, query: type[Schema] = NoQuery,
              body: type[Schema] | None = None, auth: str | None = "access", errors: tuple[int, ...] = (503,),
              content: dict | None = None):
    def decorate(view):
        spec = Operation(summary, inspect.getdoc(view) or "", response, query, body, auth, errors, content or {})
        query_schema, body_schema = query(), body() if body else None
        response_schema = response() if response else None

        @functools.wraps(view)
        def handle(**path):
            if auth and not (auth == "access" and g.get("access_token_verified")):  # api/caching.py did it
                verify_jwt_in_request(refresh=auth == "refresh", optional=auth == "optional")
            args = parse_query(query_schema)
            if query is not NoQuery:
                path["args"] = args
            if body_schema:
                path["body"] = parse_body(body_schema)
            result = view(**path)
            return result if isinstance(result, Response) else jsonify(response_schema.dump(result))

        handle.operation = spec
        return handle

    return decorate


def parse_query(schema: Schema) -> dict:
    """The query string loaded by ``schema``; 400 naming unknown, repeated or invalid parameters."""
    known = {f.data_key or name for name, f in schema.load_fields.items()}
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}",
                       {name: ["Unknown query parameter."] for name in unknown})
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise ApiError(400, f"query parameter(s) given more than once: {', '.join(repeated)}",
                       {name: ["Give this parameter once."] for name in repeated})
    return load(schema, request.args.to_dict(), "invalid query parameter(s)")


def parse_body(schema: Schema) -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return load(schema, data, "invalid request body")


def load(schema: Schema, data: dict, message: str) -> dict:
    unstorable = sorted(name for name, value in data.items() if not storable(value))
    if unstorable:
        raise ApiError(400, f"{message}: {', '.join(unstorable)}", {name: [UNSTORABLE] for name in unstorable})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(400, f"{message}: {', '.join(sorted(exc.messages))}", exc.messages) from exc
