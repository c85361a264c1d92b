"""Crawl runs and the health answer built from them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import doc

CRAWL_STATUSES = ("running", "finished", "partial", "failed", "interrupted")


class CrawlsQuery(Schema):
    spider = fields.String(validate=validate.Length(1, 100), metadata=doc("Only runs of this spider."))
    status = fields.String(validate=validate.OneOf(CRAWL_STATUSES), metadata=doc("Only runs with this status."))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100), metadata=doc("How many, newest first."))


class CrawlRunSchema(Schema):
    id = fields.Integer(required=True)
    spider = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CRAWL_STATUSES))
    args = fields.Dict(metadata=doc("Spider arguments."))
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    finish_reason = fields.String(allow_none=True)
    complete = fields.Boolean(allow_none=True, metadata=doc("Every page answered and every item was valid."))
    inserted = fields.Integer(allow_none=True)
    updated = fields.Integer(allow_none=True)
    unchanged = fields.Integer(allow_none=True)
    removed = fields.Integer(allow_none=True)
    rejected = fields.Integer(allow_none=True)
    duplicates = fields.Integer(allow_none=True)


class CrawlListSchema(Schema):
    items = fields.List(fields.Nested(CrawlRunSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata=doc("ok"))
    database = fields.String(required=True, metadata=doc("up"))
    schema_version = fields.String(allow_none=True, metadata=doc("Last applied migration."))
    last_crawls = fields.List(fields.Nested(CrawlRunSchema), required=True,
                              metadata=doc("The last finished run of each spider."))
