-- What the read-only API needs: its users, indexes for its filters and sorts,
-- the views it reads (schema "api": the contract), and a role that may read
-- them and nothing else.

CREATE TABLE api_users (
    id            serial PRIMARY KEY,
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    password_hash text        NOT NULL,  -- werkzeug.security.generate_password_hash
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination orders by (column, id) and resumes with (column, id) > (v, id):
-- one index per sort serves both directions and every page at the same cost.
CREATE INDEX books_price_id_idx        ON books (price, id);
CREATE INDEX books_rating_id_idx       ON books (rating, id);
CREATE INDEX books_title_id_idx        ON books (title, id);
CREATE INDEX books_availability_id_idx ON books (availability, id);
CREATE INDEX categories_lower_name_idx ON categories (lower(name));

-- Title search is lower(title) LIKE '%q%': only a trigram index helps, and
-- pg_trgm is missing from some builds (the embedded pgserver one). Without it
-- the search scans books, a table of thousands of rows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXECUTE 'CREATE INDEX books_title_trgm_idx ON books USING gin (lower(title) gin_trgm_ops)';
    ELSE
        RAISE NOTICE 'pg_trgm not available: title search will scan books';
    END IF;
END
$$;

CREATE SCHEMA api;
COMMENT ON SCHEMA api IS 'What the read-only HTTP API reads.';

CREATE VIEW api.books AS
SELECT b.id, b.upc, b.title, b.category_id, c.name AS category, c.slug AS category_slug,
       b.price, b.price_excl_tax, b.price_incl_tax, b.tax, b.availability, b.rating,
       b.review_count, b.description, b.image_url, b.url, b.first_seen_at, b.last_seen_at,
       b.removed_at, b.updated_at, b.last_run_id
FROM books b JOIN categories c ON c.id = b.category_id;

-- Per category figures over the books still listed (removed ones excluded).
CREATE VIEW api.categories AS
SELECT c.id, c.name, c.slug,
       count(b.id)                                  AS book_count,
       count(b.id) FILTER (WHERE b.availability > 0) AS in_stock,
       coalesce(sum(b.availability), 0)             AS units,
       round(avg(b.price), 2)                       AS avg_price,
       min(b.price)                                 AS min_price,
       max(b.price)                                 AS max_price,
       round(avg(b.rating), 2)                      AS avg_rating
FROM categories c LEFT JOIN books b ON b.category_id = c.id AND b.removed_at IS NULL
GROUP BY c.id;

-- One model-ready row per listed book; columns match api/schemas.py FEATURES.
CREATE VIEW api.training_data AS
SELECT b.id                                AS book_id,
       c.name                              AS category,
       b.price,
       b.price_excl_tax,
       b.tax,
       b.availability,
       b.availability > 0                  AS in_stock,
       b.rating,
       b.review_count,
       coalesce(length(b.description), 0)  AS description_length,
       length(b.title)                     AS title_length
FROM books b JOIN categories c ON c.id = b.category_id
WHERE b.removed_at IS NULL;

-- The API's role: SELECT on what it reads, nothing else. Roles are
-- cluster-wide (several databases may run this file), grants per database.
-- Where the migrating user may not create roles (managed hosts), skip with a
-- notice: the API then runs as the owner and docs/api.md says so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE NOTICE 'cannot create role api_reader here: read-only role skipped';
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE api_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration created it just now
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO api_reader', current_database());
    GRANT USAGE ON SCHEMA public, api TO api_reader;
    GRANT SELECT ON api.books, api.categories, api.training_data,
                    book_history, crawl_runs, api_users, schema_migrations TO api_reader;
END
$$;
