-- Books crawled from books.toscrape.com, the runs that crawled them, and what they rejected.

CREATE TABLE crawl_runs (
    id            bigserial PRIMARY KEY,
    spider        text        NOT NULL,
    args          jsonb       NOT NULL DEFAULT '{}',
    status        text        NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'finished', 'partial', 'failed', 'interrupted')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    finish_reason text,
    -- complete: every page answered and every item was valid, so absence means removal
    complete      boolean,
    stats         jsonb,
    inserted      integer,
    updated       integer,
    unchanged     integer,
    removed       integer,
    rejected      integer,
    duplicates    integer,
    host          text,
    pid           integer,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX crawl_runs_spider_started_idx ON crawl_runs (spider, started_at DESC);

CREATE TABLE categories (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    -- the site's own slug without its numeric suffix: "Historical Fiction" -> "historical-fiction"
    slug          text GENERATED ALWAYS AS
                  (btrim(regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'), '-')) STORED UNIQUE,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE books (
    id             integer PRIMARY KEY CHECK (id > 0),  -- the site's id: a-light-in-the-attic_1000 -> 1000
    upc            text          NOT NULL UNIQUE,
    title          text          NOT NULL CHECK (btrim(title) <> ''),
    category_id    integer       NOT NULL REFERENCES categories (id),
    price          numeric(12,2) NOT NULL CHECK (price >= 0),  -- price incl. tax
    price_excl_tax numeric(12,2) NOT NULL CHECK (price_excl_tax >= 0),
    price_incl_tax numeric(12,2) NOT NULL CHECK (price_incl_tax >= 0),
    tax            numeric(12,2) NOT NULL CHECK (tax >= 0),
    availability   integer       NOT NULL CHECK (availability >= 0),  -- units in stock
    rating         smallint      NOT NULL CHECK (rating BETWEEN 1 AND 5),
    review_count   integer       NOT NULL CHECK (review_count >= 0),
    description    text,
    image_url      text          NOT NULL,
    url            text          NOT NULL,
    first_seen_at  timestamptz   NOT NULL,
    last_seen_at   timestamptz   NOT NULL,
    removed_at     timestamptz,  -- absent from a complete, unfiltered crawl; never deleted
    updated_at     timestamptz   NOT NULL,  -- last change of content, not of last_seen_at
    last_run_id    bigint        NOT NULL REFERENCES crawl_runs (id)  -- the run that last changed it
);
CREATE INDEX books_category_idx ON books (category_id);
CREATE INDEX books_price_idx ON books (price);
CREATE INDEX books_rating_idx ON books (rating);

-- One row per version of a book's price, stock and rating; the open version has valid_to NULL.
CREATE TABLE book_history (
    id           bigserial PRIMARY KEY,
    book_id      integer       NOT NULL REFERENCES books (id),
    price        numeric(12,2) NOT NULL,
    availability integer       NOT NULL,
    rating       smallint      NOT NULL,
    valid_from   timestamptz   NOT NULL,
    valid_to     timestamptz,
    run_id       bigint        NOT NULL REFERENCES crawl_runs (id),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX book_history_open_idx ON book_history (book_id) WHERE valid_to IS NULL;
CREATE INDEX book_history_book_idx ON book_history (book_id, valid_from);

CREATE TABLE rejects (
    id          bigserial PRIMARY KEY,
    run_id      bigint      NOT NULL REFERENCES crawl_runs (id),
    spider      text        NOT NULL,
    url         text,
    errors      jsonb       NOT NULL,  -- {"field": ["message", ...]}
    item        jsonb       NOT NULL,  -- the item as scraped
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run_idx ON rejects (run_id);

-- Items land here in batches during a run and are merged into the primary
-- tables in one transaction when it ends (or by the next run, if it died).
CREATE SCHEMA staging;

CREATE TABLE staging.books (
    run_id         bigint NOT NULL REFERENCES crawl_runs (id),
    id             integer,
    upc            text,
    title          text,
    category       text,
    price          numeric(12,2),
    price_excl_tax numeric(12,2),
    price_incl_tax numeric(12,2),
    tax            numeric(12,2),
    availability   integer,
    rating         smallint,
    review_count   integer,
    description    text,
    image_url      text,
    url            text,
    scraped_at     timestamptz NOT NULL
);
CREATE INDEX staging_books_run_idx ON staging.books (run_id);

-- Merge one run's staged books into categories, books and book_history.
-- Unchanged books are not rewritten (only their last_seen_at moves); with
-- p_complete, books the run did not see are marked removed.
CREATE FUNCTION merge_books(p_run_id bigint, p_complete boolean)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, removed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz := clock_timestamp();
    v_staged integer;
BEGIN
    DROP TABLE IF EXISTS _staged;
    CREATE TEMP TABLE _staged ON COMMIT DROP AS
        SELECT DISTINCT ON (id) * FROM staging.books
        WHERE run_id = p_run_id ORDER BY id, scraped_at DESC;
    GET DIAGNOSTICS v_staged = ROW_COUNT;

    INSERT INTO categories (name)
    SELECT DISTINCT category FROM _staged ORDER BY 1
    ON CONFLICT (name) DO NOTHING;

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

    -- The sighting stamp of unchanged books: the only column a recrawl touches.
    UPDATE books b SET last_seen_at = s.scraped_at
    FROM _staged s
    WHERE b.id = s.id AND b.last_seen_at < s.scraped_at AND b.last_run_id <> p_run_id;

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

    DELETE FROM staging.books WHERE run_id = p_run_id;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION merge_books(bigint, boolean) IS
    'Merge the staged books of one crawl run into the primary tables; returns the counts.';
