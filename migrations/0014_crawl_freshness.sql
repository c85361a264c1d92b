-- One "last run per spider" for every reader (issue 19): crawl_freshness also names its last
-- complete run and its last ended run, so the API's /health, /stats and /metrics read the runs
-- they show through this view alone. Columns are only added (CREATE OR REPLACE keeps the grant).

CREATE OR REPLACE VIEW crawl_freshness AS
SELECT s.spider,
       last.id            AS last_run_id,
       last.status        AS last_status,
       last.finish_reason AS last_reason,
       last.started_at    AS last_started_at,
       last.finished_at   AS last_finished_at,
       finished.finished_at AS last_success_at,   -- newest status 'finished' (filtered runs too)
       complete.finished_at AS last_complete_at,  -- newest complete run: the whole catalogue seen
       complete.id        AS last_complete_run_id,
       ended.id           AS last_ended_run_id     -- newest run that is no longer running, whatever its status
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
    SELECT id, finished_at FROM crawl_runs r
    WHERE r.spider = s.spider AND r.complete ORDER BY r.finished_at DESC, r.id DESC LIMIT 1
) complete ON true
LEFT JOIN LATERAL (
    SELECT id FROM crawl_runs r
    WHERE r.spider = s.spider AND r.status <> 'running' ORDER BY r.finished_at DESC NULLS LAST, r.id DESC LIMIT 1
) ended ON true;

COMMENT ON VIEW crawl_freshness IS
    'Per spider: its last run (status, reason), its last complete and last ended runs, and when it last finished / last saw the whole catalogue.';
