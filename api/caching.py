"""HTTP caching keyed on the data versions (docs/api.md, "Caching and data versions"), for api/operation.py: an
operation's strong ETag comes from the versions it declares, the API's code and the request, so a merge that
changes data moves every ETag and cache key, on every worker and dyno at once."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from cachetools import LRUCache
from flask import Response, current_app, request

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
    app.config.setdefault("API_RESPONSE_CACHE_BYTES", 32 * 2**20)
    app.extensions[RESPONSES] = BoundedCache(app.config["API_RESPONSE_CACHE_BYTES"],
                                             getsizeof=lambda entry: len(entry[0]) + 200)


def data_versions(scopes, known: dict | None) -> tuple:
    """((scope, version), ...) of ``scopes`` (0: never moved, or emptied): ``known`` (read with the
    token's user, api/auth.py), else read in one small query."""
    if known is None:
        known = {row["scope"]: row["version"] for row in fetch_all("SELECT scope, version FROM api.data_versions")}
    return tuple((scope, known.get(scope, 0)) for scope in scopes)


def etag(versions: tuple) -> str:
    query = sorted(request.args.items(multi=True))
    text = repr((CODE_DIGEST, versions, request.path, query))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def replay(tag: str) -> Response | None:
    """The answer kept for ``tag``, if any."""
    kept = current_app.extensions[RESPONSES].get(tag)
    return None if kept is None else Response(kept[0], status=200, headers=kept[1])


def mark(response: Response, tag: str, versions: tuple) -> Response:
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Data-Version"] = ",".join(f"{scope}={version}" for scope, version in versions)
    return response


def keep(tag: str, response: Response) -> None:
    """Keep a whole answer for a replay (a streamed one is not kept)."""
    if not response.is_streamed:
        headers = [(name, response.headers[name]) for name in REPLAYED_HEADERS if name in response.headers]
        current_app.extensions[RESPONSES].put(tag, (response.get_data(), headers))
