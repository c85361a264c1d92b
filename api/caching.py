"""HTTP caching keyed on the data version (docs/api.md "Caching").

A view marked ``@versioned("books")`` declares which data versions
(``api.data_versions``: books, vitibrasil, runs) its answer depends on. Before
such a GET runs, the token is verified, the versions are read (one small
query), and the strong ETag is derived from them and the canonical request.
The view then reads in a snapshot taken after that query, so an answer is
never older than the version it is filed under. A matching
``If-None-Match`` gets a 304 and a body cached for that ETag is replayed: both
without touching the data. A merge that changes data moves the version, hence
every ETag and cache key, on every worker and dyno at once.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from cachetools import LRUCache
from flask import Response, current_app, g, request
from flask_jwt_extended import verify_jwt_in_request

from api import db
from api.db import fetch_all

RESPONSES = "api.response_cache"
CACHE_CONTROL = "private, no-cache"  # answers need a token; clients revalidate with If-None-Match
REPLAYED_HEADERS = ("Content-Type", "Content-Disposition", "X-Crawl-Run-Id")


def _code_digest() -> str:
    """The API's own source: a deploy that may change a response's format changes every ETag."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE_DIGEST = _code_digest()


def versioned(*scopes: str):
    """Mark a view whose answer changes only with the data versions of ``scopes``."""

    def mark(view):
        view.data_scopes = scopes
        return view

    return mark


class BoundedCache:
    """A thread-safe LRU of at most ``maxsize`` units (``getsizeof`` decides what a unit is)."""

    def __init__(self, maxsize: int, getsizeof=None):
        self._cache = LRUCache(maxsize=maxsize, getsizeof=getsizeof)
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._cache.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            try:
                self._cache[key] = value
            except ValueError:  # larger than the whole cache: not kept
                pass

    @property
    def size(self) -> int:
        with self._lock:
            return self._cache.currsize

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


def init_app(app) -> None:
    """Register last in create_app: a 304 or a replayed body ends the request early."""
    app.config.setdefault("API_RESPONSE_CACHE_BYTES", 32 * 2**20)
    app.extensions[RESPONSES] = BoundedCache(app.config["API_RESPONSE_CACHE_BYTES"],
                                             getsizeof=lambda entry: len(entry[0]) + 200)
    app.before_request(_before)
    app.after_request(_after)


def data_versions(scopes) -> tuple:
    """((scope, version), ...) of ``scopes``, read once per request (0: never moved, or emptied)."""
    if "data_versions" not in g:
        g.data_versions = {row["scope"]: row["version"] for row in fetch_all(
            "SELECT scope, version FROM api.data_versions")}
    return tuple((scope, g.data_versions.get(scope, 0)) for scope in scopes)


def _etag(versions: tuple) -> str:
    query = sorted(request.args.items(multi=True))
    text = repr((CODE_DIGEST, versions, request.path, query))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _before():
    if request.method not in ("GET", "HEAD"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    scopes = getattr(view, "data_scopes", None)
    if not scopes:
        return None
    db.lookups_first()  # two lookups, no transaction: all a 304 or a replay costs
    auth = getattr(getattr(view, "operation", None), "auth", "access")
    if auth:  # no 304 and no cached body without a valid token
        verify_jwt_in_request(optional=auth == "optional")
        g.access_token_verified = auth == "access"  # api/operation.py need not verify it again
    g.versions = data_versions(scopes)
    g.etag = _etag(g.versions)
    if request.if_none_match.contains_weak(g.etag):
        return Response(status=304)
    cached = current_app.extensions[RESPONSES].get(g.etag)
    if cached is not None:
        body, headers = cached
        g.replayed = True
        return Response(body, status=200, headers=headers)
    # The view runs in a snapshot taken after the version was read: its answer is at least that recent.
    db.snapshot()
    return None


def _after(response: Response) -> Response:
    etag = g.get("etag")
    if etag is None or response.status_code not in (200, 304):
        return response
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Data-Version"] = ",".join(f"{scope}={version}" for scope, version in g.versions)
    if response.status_code == 200 and not response.is_streamed and not g.get("replayed"):
        headers = [(name, response.headers[name]) for name in REPLAYED_HEADERS if name in response.headers]
        current_app.extensions[RESPONSES].put(etag, (response.get_data(), headers))
    return response


def describe(operations: dict, view) -> None:
    """Add what this module answers to the OpenAPI operations of ``view`` (api/openapi.py)."""
    if not getattr(view, "data_scopes", None):
        return
    for operation in operations.values():
        # If-None-Match is described, not declared as a parameter: any string is accepted (a fuzzer
        # cannot make an invalid one), and the alias tests compare parameters with the brief's.
        operation["description"] += ("\n\nSend the `ETag` of an earlier answer as `If-None-Match`: 304, no body,"
                                     " while the data it came from is unchanged (token still checked).")
        operation["responses"]["200"]["headers"] = {
            "ETag": {"description": "Strong validator of this answer (data version and request).",
                     "schema": {"type": "string"}},
            "Cache-Control": {"description": "private, no-cache: revalidate with If-None-Match.",
                              "schema": {"type": "string"}},
            "X-Data-Version": {"description": "The data versions this answer reflects, e.g. books=42.",
                               "schema": {"type": "string"}}}
        operation["responses"]["304"] = {"description": "Not modified: the If-None-Match ETag is current."}
