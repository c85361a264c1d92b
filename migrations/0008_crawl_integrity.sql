-- How fresh each spider's data is, from crawl_runs (crawler/outcome.py states the rules):
--   status 'finished'  the run got everything the site declared it was asked for;
--   'partial'          it stored only what it got whole (a page never came back whole,
--                      fewer items than the site declares, or the removal safety net held);
--   'failed'           it stored nothing usable (dead site, empty crawl, database lost);
--   complete           finished, unfiltered and clean: the only runs that may mark rows removed.
-- The health endpoint reads crawl_freshness: one row per spider.

CREATE INDEX crawl_runs_spider_finished_idx ON crawl_runs (spider, finished_at DESC) WHERE status = 'finished';
CREATE INDEX crawl_runs_spider_complete_idx ON crawl_runs (spider, finished_at DESC) WHERE complete;

CREATE VIEW crawl_freshness AS
SELECT s.spider,
       last.id            AS last_run_id,
       last.status        AS last_status,
       last.finish_reason AS last_reason,
       last.started_at    AS last_started_at,
       last.finished_at   AS last_finished_at,
       finished.finished_at AS last_success_at,   -- newest status 'finished' (filtered runs too)
       complete.finished_at AS last_complete_at   -- newest complete run: the whole catalogue seen
FROM (SELECT DISTINCT spider FROM crawl_runs) s
CROSS JOIN LATERAL (
    SELECT id, status, finish_reason, started_at, finished_at FROM crawl_runs r
    WHERE r.spider = s.spider ORDER BY r.started_at DESC, r.id DESC LIMIT 1
) last
LEFT JOIN LATERAL (
    SELECT finished_at FROM crawl_runs r
    WHERE r.spider = s.spider AND r.status = 'finished' ORDER BY r.finished_at DESC LIMIT 1
) finished ON true
LEFT JOIN LATERAL (
    SELECT finished_at FROM crawl_runs r
    WHERE r.spider = s.spider AND r.complete ORDER BY r.finished_at DESC LIMIT 1
) complete ON true;

COMMENT ON VIEW crawl_freshness IS
    'Per spider: its last run (status, reason) and when it last finished / last saw the whole catalogue.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON crawl_freshness TO api_reader;
    END IF;
END
$$;
