-- What the read side keys its caches on (docs/api.md "Caching"): a data version per
-- scope that a merge moves only when it commits something the API serves, summary
-- tables refreshed in that same transaction, and sightings of unchanged books
-- recorded per run instead of rewriting every book row.

-- Versions come from one sequence: never reused, even after a table is emptied.
-- The row itself is transactional, so a reader sees a new version exactly when
-- it sees the data that moved it.
CREATE SEQUENCE data_version_seq;

CREATE TABLE data_versions (
    scope      text        PRIMARY KEY CHECK (scope IN ('books', 'vitibrasil', 'runs')),
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    run_id     bigint  -- the crawl run whose merge moved it (NULL for 'runs')
);
COMMENT ON TABLE data_versions IS
    'One version per scope: books (books, categories, history), vitibrasil (observations), runs (crawl_runs). '
    'Moved inside the transaction that changes what the API serves of the scope.';

CREATE FUNCTION bump_data_version(p_scope text, p_run_id bigint) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO data_versions (scope, version, changed_at, run_id)
    VALUES (p_scope, nextval('data_version_seq'), now(), p_run_id)
    ON CONFLICT (scope) DO UPDATE
        SET version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, run_id = EXCLUDED.run_id
    RETURNING version;
$$;

SELECT bump_data_version(scope, NULL) FROM unnest(ARRAY['books', 'vitibrasil', 'runs']) AS scope;

-- crawl_runs is written by the crawler outside merges (start, finish): any statement moves 'runs'.
CREATE FUNCTION crawl_runs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_data_version('runs', NULL);
    RETURN NULL;
END;
$$;
CREATE TRIGGER crawl_runs_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crawl_runs
    FOR EACH STATEMENT EXECUTE FUNCTION crawl_runs_changed();

-- Sightings of a run whose merge changed nothing: one row per run, not a write per book.
-- The next merge that changes the books folds them into books.last_seen_at.
CREATE TABLE book_sightings (
    run_id   bigint        PRIMARY KEY REFERENCES crawl_runs (id),
    book_ids integer[]     NOT NULL,
    seen_at  timestamptz[] NOT NULL CHECK (cardinality(seen_at) = cardinality(book_ids))
);
COMMENT ON TABLE book_sightings IS
    'Books seen by runs that changed nothing, with when; folded into books.last_seen_at by the next changing merge.';
COMMENT ON COLUMN books.last_seen_at IS
    'When a crawl last saw the book, as of the last merge that changed the books; later sightings wait in book_sightings.';

CREATE VIEW book_last_seen AS
SELECT u.book_id, max(u.seen_at) AS seen_at
FROM book_sightings s, unnest(s.book_ids, s.seen_at) AS u (book_id, seen_at)
GROUP BY u.book_id;

-- Title search is lower(title) LIKE '%q%'. Where pg_trgm is missing (0002_api.sql: the
-- embedded build) the same idea in plain SQL: an index of each title's trigrams, so
-- a search of 3 characters or more reads only the titles holding all of q's trigrams.
CREATE FUNCTION title_trigrams(p_text text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(p_text, i, 3)), '{}')
    FROM generate_series(1, length(p_text) - 2) AS i
$$;
DO $$
BEGIN
    IF to_regclass('books_title_trgm_idx') IS NULL THEN
        CREATE INDEX books_title_trigrams_idx ON books USING gin (title_trigrams(lower(title)));
    END IF;
END
$$;

-- Figures the aggregate endpoints serve, per category; the catalogue totals add them up.
CREATE SCHEMA summary;
COMMENT ON SCHEMA summary IS 'Aggregates refreshed by the merge that changes their sources (api.* views read them).';

CREATE TABLE summary.category_figures (
    category_id integer PRIMARY KEY REFERENCES categories (id),
    book_count  bigint  NOT NULL,  -- listed books
    removed     bigint  NOT NULL,
    in_stock    bigint  NOT NULL,
    units       bigint  NOT NULL,
    price_sum   numeric,
    avg_price   numeric,
    min_price   numeric,
    max_price   numeric,
    avg_rating  numeric,
    rating_1 bigint NOT NULL, rating_2 bigint NOT NULL, rating_3 bigint NOT NULL,
    rating_4 bigint NOT NULL, rating_5 bigint NOT NULL
);

CREATE TABLE summary.vitibrasil_figures (
    dataset      text     PRIMARY KEY REFERENCES vitibrasil.datasets (name),
    first_year   smallint,
    last_year    smallint,
    row_count    bigint   NOT NULL,
    last_updated timestamptz
);

-- DELETE + INSERT (not TRUNCATE): readers keep the old rows until the merge commits, unblocked.
CREATE FUNCTION refresh_book_summaries() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM summary.category_figures;
    INSERT INTO summary.category_figures
    SELECT category_id,
           count(*) FILTER (WHERE listed),
           count(*) FILTER (WHERE NOT listed),
           count(*) FILTER (WHERE listed AND availability > 0),
           coalesce(sum(availability) FILTER (WHERE listed), 0),
           sum(price) FILTER (WHERE listed),
           round(avg(price) FILTER (WHERE listed), 2),
           min(price) FILTER (WHERE listed),
           max(price) FILTER (WHERE listed),
           round(avg(rating) FILTER (WHERE listed), 2),
           count(*) FILTER (WHERE listed AND rating = 1), count(*) FILTER (WHERE listed AND rating = 2),
           count(*) FILTER (WHERE listed AND rating = 3), count(*) FILTER (WHERE listed AND rating = 4),
           count(*) FILTER (WHERE listed AND rating = 5)
    FROM (SELECT category_id, price, availability, rating, removed_at IS NULL AS listed FROM books) b
    GROUP BY category_id;
$$;

CREATE FUNCTION refresh_vitibrasil_summaries() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM summary.vitibrasil_figures;
    INSERT INTO summary.vitibrasil_figures
    SELECT dataset, min(year), max(year), count(*), max(updated_at)
    FROM vitibrasil.observations WHERE removed_at IS NULL
    GROUP BY dataset;
$$;

SELECT refresh_book_summaries(), refresh_vitibrasil_summaries();

-- The API's views read the summaries (same columns as 0002/0007 defined).
CREATE OR REPLACE VIEW api.categories AS
SELECT c.id, c.name, c.slug,
       coalesce(f.book_count, 0) AS book_count,
       coalesce(f.in_stock, 0)   AS in_stock,
       coalesce(f.units, 0)      AS units,
       f.avg_price, f.min_price, f.max_price, f.avg_rating
FROM categories c LEFT JOIN summary.category_figures f ON f.category_id = c.id;

CREATE OR REPLACE VIEW api.vitibrasil_datasets AS
SELECT d.name, d.label, d.unit, d.kind, d.opcao, d.subopcao,
       f.first_year, f.last_year, coalesce(f.row_count, 0) AS row_count, f.last_updated
FROM vitibrasil.datasets d LEFT JOIN summary.vitibrasil_figures f ON f.dataset = d.name;

-- As 0002 defined it, with a LEFT JOIN (every book has its category, so the same rows):
-- the planner then drops the join from queries that read no category column, so
-- list pages and counts read books alone (api/books.py adds the names).
CREATE OR REPLACE VIEW api.books AS
SELECT b.id, b.upc, b.title, b.category_id, c.name AS category, c.slug AS category_slug,
       b.price, b.price_excl_tax, b.price_incl_tax, b.tax, b.availability, b.rating,
       b.review_count, b.description, b.image_url, b.url, b.first_seen_at, b.last_seen_at,
       b.removed_at, b.updated_at, b.last_run_id
FROM books b LEFT JOIN categories c ON c.id = b.category_id;

-- Catalogue totals (listed books; removed ones only counted): one row, from 50-odd summary rows.
CREATE VIEW api.book_stats AS
SELECT coalesce(sum(book_count), 0)::bigint                AS books,
       coalesce(sum(removed), 0)::bigint                   AS removed,
       coalesce(sum(in_stock), 0)::bigint                  AS in_stock,
       coalesce(sum(book_count - in_stock), 0)::bigint     AS out_of_stock,
       coalesce(sum(units), 0)::bigint                     AS units,
       count(*) FILTER (WHERE book_count > 0)              AS categories,
       min(min_price)                                      AS min_price,
       max(max_price)                                      AS max_price,
       round(sum(price_sum) / nullif(sum(book_count), 0), 2) AS avg_price,
       coalesce(sum(rating_1), 0)::bigint AS rating_1, coalesce(sum(rating_2), 0)::bigint AS rating_2,
       coalesce(sum(rating_3), 0)::bigint AS rating_3, coalesce(sum(rating_4), 0)::bigint AS rating_4,
       coalesce(sum(rating_5), 0)::bigint AS rating_5
FROM summary.category_figures;

-- Listed books per category (and removed ones), exact, for totals that need no scan.
CREATE VIEW api.category_counts AS
SELECT c.id, lower(c.name) AS lower_name, c.slug, coalesce(f.book_count, 0) AS listed,
       coalesce(f.book_count + f.removed, 0) AS every
FROM categories c LEFT JOIN summary.category_figures f ON f.category_id = c.id;

CREATE VIEW api.data_versions AS SELECT scope, version, changed_at FROM data_versions;

-- Analysts keep the exact sighting: the stored one or a later one waiting in book_sightings.
CREATE OR REPLACE VIEW analytics.books AS
SELECT b.id, b.title, b.upc, c.name AS category, c.slug AS category_slug,
       b.price, b.price_excl_tax, b.tax, b.availability, b.availability > 0 AS in_stock,
       b.rating, b.review_count, b.description, b.url, b.image_url,
       b.removed_at IS NULL AS listed, b.first_seen_at, greatest(b.last_seen_at, s.seen_at) AS last_seen_at,
       b.removed_at, b.updated_at
FROM books b JOIN categories c ON c.id = b.category_id LEFT JOIN book_last_seen s ON s.book_id = b.id;

CREATE OR REPLACE VIEW analytics.category_summary AS
SELECT c.name AS category, c.slug AS category_slug,
       count(b.id) FILTER (WHERE b.removed_at IS NULL)                                   AS books,
       count(b.id) FILTER (WHERE b.removed_at IS NULL AND b.availability > 0)            AS books_in_stock,
       coalesce(sum(b.availability) FILTER (WHERE b.removed_at IS NULL), 0)              AS units_in_stock,
       round(avg(b.price) FILTER (WHERE b.removed_at IS NULL), 2)                        AS avg_price,
       min(b.price) FILTER (WHERE b.removed_at IS NULL)                                  AS min_price,
       max(b.price) FILTER (WHERE b.removed_at IS NULL)                                  AS max_price,
       round(avg(b.rating) FILTER (WHERE b.removed_at IS NULL), 2)                       AS avg_rating,
       count(b.id) FILTER (WHERE b.removed_at IS NOT NULL)                               AS books_removed,
       max(greatest(b.last_seen_at, s.seen_at))                                          AS last_seen_at
FROM categories c LEFT JOIN books b ON b.category_id = c.id LEFT JOIN book_last_seen s ON s.book_id = b.id
GROUP BY c.id;

-- 0001's merge, plus: unchanged runs only record their sighting; changing ones fold
-- the pending sightings in, refresh the summaries and move the 'books' version.
CREATE OR REPLACE FUNCTION merge_books(p_run_id bigint, p_complete boolean)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, removed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_now            timestamptz := clock_timestamp();
    v_staged         integer;
    v_new_categories integer;
BEGIN
    DROP TABLE IF EXISTS _staged;
    CREATE TEMP TABLE _staged ON COMMIT DROP AS
        SELECT DISTINCT ON (id) * FROM staging.books
        WHERE run_id = p_run_id ORDER BY id, scraped_at DESC;
    GET DIAGNOSTICS v_staged = ROW_COUNT;

    INSERT INTO categories (name)
    SELECT DISTINCT category FROM _staged ORDER BY 1
    ON CONFLICT (name) DO NOTHING;
    GET DIAGNOSTICS v_new_categories = ROW_COUNT;

    WITH upserted AS (
        INSERT INTO books AS b (id, upc, title, category_id, price, price_excl_tax, price_incl_tax,
                                tax, availability, rating, review_count, description, image_url,
                                url, first_seen_at, last_seen_at, removed_at, updated_at, last_run_id)
        SELECT s.id, s.upc, s.title, c.id, s.price, s.price_excl_tax, s.price_incl_tax,
               s.tax, s.availability, s.rating, s.review_count, s.description, s.image_url,
               s.url, s.scraped_at, s.scraped_at, NULL, v_now, p_run_id
        FROM _staged s JOIN categories c ON c.name = s.category
        ORDER BY s.id
        ON CONFLICT (id) DO UPDATE SET
            upc = EXCLUDED.upc, title = EXCLUDED.title, category_id = EXCLUDED.category_id,
            price = EXCLUDED.price, price_excl_tax = EXCLUDED.price_excl_tax,
            price_incl_tax = EXCLUDED.price_incl_tax, tax = EXCLUDED.tax,
            availability = EXCLUDED.availability, rating = EXCLUDED.rating,
            review_count = EXCLUDED.review_count, description = EXCLUDED.description,
            image_url = EXCLUDED.image_url, url = EXCLUDED.url,
            last_seen_at = greatest(b.last_seen_at, EXCLUDED.last_seen_at),
            removed_at = NULL, updated_at = v_now, last_run_id = p_run_id
        WHERE (b.upc, b.title, b.category_id, b.price, b.price_excl_tax, b.price_incl_tax, b.tax,
               b.availability, b.rating, b.review_count, b.description, b.image_url, b.url,
               b.removed_at IS NOT NULL)
              IS DISTINCT FROM
              (EXCLUDED.upc, EXCLUDED.title, EXCLUDED.category_id, EXCLUDED.price,
               EXCLUDED.price_excl_tax, EXCLUDED.price_incl_tax, EXCLUDED.tax,
               EXCLUDED.availability, EXCLUDED.rating, EXCLUDED.review_count,
               EXCLUDED.description, EXCLUDED.image_url, EXCLUDED.url, false)
        RETURNING (xmax = 0) AS is_insert
    )
    SELECT count(*) FILTER (WHERE is_insert), count(*) FILTER (WHERE NOT is_insert)
    INTO inserted, updated FROM upserted;
    unchanged := v_staged - inserted - updated;

    -- Close the open version of books whose price, stock or rating moved, then open new ones.
    UPDATE book_history h SET valid_to = greatest(s.scraped_at, h.valid_from)
    FROM _staged s
    WHERE h.book_id = s.id AND h.valid_to IS NULL
      AND (h.price, h.availability, h.rating) IS DISTINCT FROM (s.price, s.availability, s.rating);
    INSERT INTO book_history (book_id, price, availability, rating, valid_from, run_id)
    SELECT s.id, s.price, s.availability, s.rating, s.scraped_at, p_run_id
    FROM _staged s
    WHERE NOT EXISTS (SELECT 1 FROM book_history h WHERE h.book_id = s.id AND h.valid_to IS NULL)
    ORDER BY s.id;

    removed := 0;
    IF p_complete THEN
        UPDATE books b SET removed_at = v_now, updated_at = v_now, last_run_id = p_run_id
        WHERE b.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM _staged s WHERE s.id = b.id);
        GET DIAGNOSTICS removed = ROW_COUNT;
    END IF;

    IF inserted + updated + removed + v_new_categories = 0 THEN
        -- Nothing served changed: no book row is written, the version stays.
        INSERT INTO book_sightings (run_id, book_ids, seen_at)
        SELECT p_run_id, array_agg(id ORDER BY id), array_agg(scraped_at ORDER BY id) FROM _staged
        HAVING count(*) > 0
        ON CONFLICT (run_id) DO NOTHING;
    ELSE
        UPDATE books b SET last_seen_at = x.seen_at
        FROM (SELECT id, max(seen_at) AS seen_at
              FROM (SELECT id, scraped_at AS seen_at FROM _staged
                    UNION ALL SELECT book_id, seen_at FROM book_last_seen) u
              GROUP BY id) x
        WHERE b.id = x.id AND b.last_seen_at < x.seen_at;
        DELETE FROM book_sightings;
        PERFORM refresh_book_summaries();
        PERFORM bump_data_version('books', p_run_id);
    END IF;

    DELETE FROM staging.books WHERE run_id = p_run_id;
    RETURN NEXT;
END;
$$;

-- 0003's merge, kept under another name, and around it: a merge that changed figures
-- refreshes the summary and moves 'vitibrasil' (same signature and counts as before).
ALTER FUNCTION vitibrasil.merge_observations(bigint, boolean) RENAME TO merge_observation_rows;

CREATE FUNCTION vitibrasil.merge_observations(p_run_id bigint, p_complete boolean)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, removed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_counts record;
BEGIN
    SELECT * INTO v_counts FROM vitibrasil.merge_observation_rows(p_run_id, p_complete);
    IF v_counts.inserted + v_counts.updated + v_counts.removed > 0 THEN
        PERFORM refresh_vitibrasil_summaries();
        PERFORM bump_data_version('vitibrasil', p_run_id);
    END IF;
    inserted := v_counts.inserted;
    updated := v_counts.updated;
    unchanged := v_counts.unchanged;
    removed := v_counts.removed;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION vitibrasil.merge_observations(bigint, boolean) IS
    'Merge the staged Vitibrasil observations of one crawl run (merge_observation_rows), then move the '
    'data version if figures changed; returns the counts.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON api.book_stats, api.category_counts, api.data_versions TO api_reader;
    END IF;
END
$$;
