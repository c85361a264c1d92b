-- The dashboard (issue 22): a running crawl's progress in its crawl_runs row, and the summaries
-- the dashboard's charts read, refreshed when a merge moves the data version of their source.

-- Progress, written by the crawl at each staging flush (crawler/store.py) while it runs; the
-- merge's counts replace rejected at the end. NULL for runs from before this migration.
ALTER TABLE crawl_runs
    ADD COLUMN pages       integer CHECK (pages >= 0),
    ADD COLUMN items       integer CHECK (items >= 0),
    ADD COLUMN staged      integer CHECK (staged >= 0),
    ADD COLUMN rate        real    CHECK (rate >= 0),
    ADD COLUMN expected    integer CHECK (expected >= 0),
    ADD COLUMN eta         timestamptz,
    ADD COLUMN progress_at timestamptz;
COMMENT ON COLUMN crawl_runs.pages IS 'HTTP responses received so far (at the last progress write).';
COMMENT ON COLUMN crawl_runs.items IS 'Items scraped so far, before validation and deduplication.';
COMMENT ON COLUMN crawl_runs.staged IS 'Items written to staging so far: what a kill -9 now would not lose.';
COMMENT ON COLUMN crawl_runs.rate IS 'Items scraped per second over the run so far.';
COMMENT ON COLUMN crawl_runs.expected IS 'Items the site declared (books: its result count), when it declared them.';
COMMENT ON COLUMN crawl_runs.eta IS 'Estimated end: the items still expected at the current rate; NULL when unknown.';
COMMENT ON COLUMN crawl_runs.progress_at IS 'When the crawl last wrote its progress.';

-- Listed books per category, rating, 5-GBP price bucket and stock: every chart of the books page
-- is a sum over at most a few thousand of these rows, whatever the size of the catalogue.
CREATE TABLE summary.book_cube (
    category_id  integer NOT NULL REFERENCES categories (id),
    rating       smallint NOT NULL,
    price_bucket integer NOT NULL,  -- floor(price / 5): the bucket [5 b, 5 b + 5)
    in_stock     boolean NOT NULL,
    books        bigint  NOT NULL,
    units        bigint  NOT NULL,
    price_sum    numeric NOT NULL,
    PRIMARY KEY (category_id, rating, price_bucket, in_stock)
);

-- What the book history says changed, per day of the crawl that saw it and category.
CREATE TABLE summary.book_changes (
    day          date    NOT NULL,
    category_id  integer NOT NULL REFERENCES categories (id),
    added        bigint  NOT NULL,  -- books seen for the first time
    price_up     bigint  NOT NULL,
    price_down   bigint  NOT NULL,
    price_delta  numeric NOT NULL,  -- sum of the price changes, GBP
    stock_change bigint  NOT NULL,  -- versions whose stock differs from the one before
    removed      bigint  NOT NULL,  -- books a complete crawl stopped seeing that day
    PRIMARY KEY (day, category_id)
);
-- The refresh reads only the history from the day of the merged run on.
CREATE INDEX book_history_valid_from_idx ON book_history (valid_from);

-- One row per Vitibrasil series (dataset, category, item): the dashboard's choice of series.
CREATE TABLE summary.vitibrasil_series (
    dataset     text     NOT NULL REFERENCES vitibrasil.datasets (name),
    category    text,
    item        text     NOT NULL,
    is_category boolean  NOT NULL,
    first_year  smallint NOT NULL,
    last_year   smallint NOT NULL,
    quantity    numeric,  -- over all years
    value_usd   numeric,
    UNIQUE NULLS NOT DISTINCT (dataset, category, item)
);

-- Per dataset and year: the category rows' totals (volume datasets) or the countries' (trade).
CREATE TABLE summary.vitibrasil_totals (
    dataset   text     NOT NULL REFERENCES vitibrasil.datasets (name),
    year      smallint NOT NULL,
    quantity  numeric,
    value_usd numeric,
    PRIMARY KEY (dataset, year)
);

-- DELETE + INSERT as 0009's refreshes: readers keep the old rows until the merge commits.
CREATE FUNCTION refresh_book_dashboard(p_run_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    -- History is only ever added from the merged run's scrape on: earlier days stay as they were.
    v_from date := coalesce((SELECT started_at::date FROM crawl_runs WHERE id = p_run_id), '-infinity');
BEGIN
    DELETE FROM summary.book_cube;
    INSERT INTO summary.book_cube
    SELECT category_id, rating, floor(price / 5)::integer, availability > 0,
           count(*), sum(availability), sum(price)
    FROM books WHERE removed_at IS NULL
    GROUP BY 1, 2, 3, 4;

    DELETE FROM summary.book_changes WHERE day >= v_from;
    INSERT INTO summary.book_changes
    SELECT day, category_id, sum(added), sum(price_up), sum(price_down), sum(price_delta), sum(stock_change),
           sum(removed)
    FROM (
        SELECT h.valid_from::date AS day, b.category_id,
               (p.price IS NULL)::integer AS added,
               coalesce(h.price > p.price, false)::integer AS price_up,
               coalesce(h.price < p.price, false)::integer AS price_down,
               coalesce(h.price - p.price, 0) AS price_delta,
               coalesce(h.availability <> p.availability, false)::integer AS stock_change, 0 AS removed
        FROM book_history h JOIN books b ON b.id = h.book_id
        LEFT JOIN LATERAL (
            SELECT price, availability FROM book_history x
            WHERE x.book_id = h.book_id AND (x.valid_from, x.id) < (h.valid_from, h.id)
            ORDER BY x.valid_from DESC, x.id DESC LIMIT 1
        ) p ON true
        WHERE h.valid_from >= v_from
        UNION ALL
        SELECT removed_at::date, category_id, 0, 0, 0, 0, 0, 1 FROM books WHERE removed_at >= v_from
    ) c
    GROUP BY day, category_id;
END;
$$;

CREATE FUNCTION refresh_vitibrasil_dashboard() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM summary.vitibrasil_series;
    INSERT INTO summary.vitibrasil_series
    SELECT dataset, category, item, bool_or(is_category), min(year), max(year), sum(quantity), sum(value_usd)
    FROM vitibrasil.observations WHERE removed_at IS NULL
    GROUP BY dataset, category, item;

    DELETE FROM summary.vitibrasil_totals;
    INSERT INTO summary.vitibrasil_totals
    SELECT dataset, year, sum(quantity), sum(value_usd)
    FROM vitibrasil.observations
    WHERE removed_at IS NULL AND (is_category OR category IS NULL)
    GROUP BY dataset, year;
$$;

-- A merge that changed books or figures moves their data version (0009): the summaries follow in
-- the same transaction, whichever merge function (or later migration) moved it.
CREATE FUNCTION refresh_dashboard_summaries() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.scope = 'books' THEN
        PERFORM refresh_book_dashboard(NEW.run_id);
    ELSE
        PERFORM refresh_vitibrasil_dashboard();
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER data_versions_dashboard AFTER INSERT OR UPDATE ON data_versions
    FOR EACH ROW WHEN (NEW.scope IN ('books', 'vitibrasil')) EXECUTE FUNCTION refresh_dashboard_summaries();

SELECT refresh_book_dashboard(NULL), refresh_vitibrasil_dashboard();

-- What the API reads (views with their owner's rights, as 0009's).
CREATE VIEW api.book_cube AS
SELECT f.category_id, c.name AS category, c.slug AS category_slug, f.rating, f.price_bucket, f.in_stock,
       f.books, f.units, f.price_sum
FROM summary.book_cube f JOIN categories c ON c.id = f.category_id;

CREATE VIEW api.book_changes AS
SELECT f.day, f.category_id, c.name AS category, c.slug AS category_slug, f.added, f.price_up, f.price_down,
       f.price_delta, f.stock_change, f.removed
FROM summary.book_changes f JOIN categories c ON c.id = f.category_id;

CREATE VIEW api.vitibrasil_series AS
SELECT s.dataset, d.unit, s.category, s.item, s.is_category, s.first_year, s.last_year, s.quantity, s.value_usd
FROM summary.vitibrasil_series s JOIN vitibrasil.datasets d ON d.name = s.dataset;

CREATE VIEW api.vitibrasil_totals AS
SELECT t.dataset, d.unit, d.kind, t.year, t.quantity, t.value_usd
FROM summary.vitibrasil_totals t JOIN vitibrasil.datasets d ON d.name = t.dataset;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON api.book_cube, api.book_changes, api.vitibrasil_series, api.vitibrasil_totals TO api_reader;
    END IF;
END
$$;
