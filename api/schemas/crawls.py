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
    pages = fields.Integer(allow_none=True, metadata=doc("HTTP responses received so far."))
    items = fields.Integer(allow_none=True, metadata=doc("Items scraped so far (before validation)."))
    staged = fields.Integer(allow_none=True, metadata=doc("Items written to staging so far."))
    rate = fields.Float(allow_none=True, metadata=doc("Items scraped per second over the run so far."))
    expected = fields.Integer(allow_none=True, metadata=doc("Items the site declared, when it did."))
    eta = fields.DateTime(allow_none=True, metadata=doc("Estimated end at the current rate; null when unknown."))
    progress_at = fields.DateTime(allow_none=True, metadata=doc("When the crawl last wrote its progress."))


class CrawlListSchema(Schema):
    items = fields.List(fields.Nested(CrawlRunSchema), required=True)


class SpiderHealthSchema(Schema):
    spider = fields.String(required=True)
    last_status = fields.String(allow_none=True, validate=validate.OneOf(CRAWL_STATUSES),
                                metadata=doc("Status of the spider's newest run; null when it never ran."))
    last_complete_at = fields.DateTime(allow_none=True,
                                       metadata=doc("When the last complete crawl finished; null if none did."))
    age_seconds = fields.Integer(allow_none=True, metadata=doc("Seconds since last_complete_at."))
    max_age_seconds = fields.Integer(required=True, metadata=doc(
        "Older than this the data is stale (HEALTH_MAX_AGE_<SPIDER>, else HEALTH_MAX_AGE)."))
    stale = fields.Boolean(required=True, metadata=doc("No complete crawl within max_age_seconds."))
    failed = fields.Boolean(required=True, metadata=doc(
        "The newest run that ended did not finish: failed, partial or interrupted."))
    last_run = fields.Nested(CrawlRunSchema, allow_none=True,
                             metadata=doc("With a valid token only: the newest run, counts and arguments included."))
    last_complete_run = fields.Nested(CrawlRunSchema, allow_none=True,
                                      metadata=doc("With a valid token only: the last complete run."))


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]),
                           metadata=doc("ok, or degraded when a spider's data is stale or its last run failed."))
    database = fields.String(required=True, metadata=doc("up"))
    schema_version = fields.String(allow_none=True, metadata=doc("Last applied migration."))
    spiders = fields.List(fields.Nested(SpiderHealthSchema), required=True, metadata=doc(
        "Every spider that ran or has a HEALTH_MAX_AGE_<SPIDER>, by name."))
