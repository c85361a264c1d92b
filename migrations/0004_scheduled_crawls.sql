-- What the crawl worker (crawler/worker.py) did at each firing of a spider's
-- schedule, including what crawl_runs cannot show: firings skipped because
-- another crawl of the spider was running, and crawls that failed before they
-- had a run (bad arguments, database unreachable from the child).

CREATE TABLE scheduled_crawls (
    id          bigserial PRIMARY KEY,
    spider      text        NOT NULL,
    outcome     text        NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'skipped', 'finished', 'partial', 'failed', 'interrupted')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    exit_code   integer,     -- of `scrapy crawl`: 0 finished, 1 run not finished, 2 database unreachable, <0 signal
    run_id      bigint REFERENCES crawl_runs (id),  -- NULL when skipped or failed before a run began
    worker      text        NOT NULL,  -- dyno (or host) and pid of the worker process
    detail      text,
    CHECK ((outcome = 'running') = (finished_at IS NULL))
);
CREATE INDEX scheduled_crawls_spider_started_idx ON scheduled_crawls (spider, started_at DESC);

COMMENT ON TABLE scheduled_crawls IS
    'One row per firing of a spider''s schedule in the crawl worker: skipped, or the crawl it ran and how it ended.';
