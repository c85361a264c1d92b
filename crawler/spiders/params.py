"""Parameter types the spiders' argument models share (as zyte-spider-templates' ``params``).

A field keeps the type's validation and JSON schema and may give its own
title, description and default.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL such as https://example.com/, not {value!r}")
    return value


SiteUrl = Annotated[str, AfterValidator(_absolute_http_url), Field(
    title="Site URL",
    description="Absolute http(s) URL the crawl starts from; point it at a local copy for tests.",
    json_schema_extra={"format": "uri"},
)]
