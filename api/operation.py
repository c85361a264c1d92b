"""``@operation``: an endpoint's request pipeline, declared once on its view, e.g.
``@operation("List books", query=BooksQuery, response=BookPageSchema, versions=("books",))``. ``handle`` below is a
request's whole path; the declaration stays on the view for the OpenAPI document (api/docs.py)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

import orjson
from flask import Response, jsonify, request
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from marshmallow import Schema, ValidationError

from api import caching, db
from api.errors import ApiError
from api.schemas.common import UNSTORABLE, NoQuery, NotPlain, plain_dump, storable


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
    versions: tuple[str, ...] = ()  # the data versions (api.data_versions) the answer depends on, nothing else


def operation(summary: str, *, response: type[Schema] | None = None, query: type[Schema] = NoQuery,
              body: type[Schema] | None = None, auth: str | None = "access", errors: tuple[int, ...] = (503,),
              content: dict | None = None, versions: tuple[str, ...] = ()):
    def decorate(view):
        spec = Operation(summary, inspect.getdoc(view) or "", response, query, body, auth, errors, content or {},
                         versions)
        query_schema, body_schema = query(), body() if body else None
        response_schema = response() if response else None
        dump = plain_dump(response_schema) if response_schema else None

        @functools.wraps(view)
        def handle(**path):
            # 1. Authentication: the token, and its user read in autocommit with the data versions (api/auth.py).
            user = None
            if auth and verify_jwt_in_request(refresh=auth == "refresh", optional=auth == "optional"):
                user = get_current_user()
            # 2. Data version and ETag: a 304, or the answer kept for this ETag, without touching the data.
            data_versions = caching.data_versions(versions, user and user["data_versions"]) if versions else ()
            etag = caching.etag(data_versions) if versions else None
            if etag and request.if_none_match.contains_weak(etag):
                return caching.mark(Response(status=304), etag, data_versions)
            if etag and (kept := caching.replay(etag)) is not None:
                return caching.mark(kept, etag, data_versions)
            # 3. Snapshot: the view's reads share one transaction, begun after the version was read.
            db.snapshot(data_versions)
            # 4. Arguments: the query string and the body, loaded by their schemas (400 otherwise).
            args = parse_query(query_schema)
            if query is not NoQuery:
                path["args"] = args
            if body_schema:
                path["body"] = parse_body(body_schema)
            # 5. The view.
            result = view(**path)
            # 6. The dump: the view's data through the response schema (a Response, e.g. a stream, as is).
            answer = result if isinstance(result, Response) else dumped(response_schema, dump, result)
            # 7. Caching: the answer filed under its ETag, for a 304 or a replay next time.
            if etag and answer.status_code == 200:
                caching.keep(etag, caching.mark(answer, etag, data_versions))
            return answer

        handle.operation = spec
        return handle

    return decorate


def dumped(schema: Schema, dump, data) -> Response:
    """``data`` as ``schema`` dumps it, in JSON: compiled (api/schemas/common.py plain_dump) and
    written by orjson, keys sorted as jsonify sorts them; else by marshmallow and jsonify."""
    if dump is not None:
        try:
            return Response(orjson.dumps(dump(data), option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE),
                            mimetype="application/json")
        except (NotPlain, orjson.JSONEncodeError):  # an object, or a value orjson does not write
            pass
    return jsonify(schema.dump(data))


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
