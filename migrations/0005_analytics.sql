-- Schema "analytics": views made for people who query the database in SQL,
-- and the role "analyst" that may read them and nothing else (docs/schema.md).
-- The views run with their owner's rights (the PostgreSQL default, kept on
-- purpose): an analyst needs no right on the tables underneath.

CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS
    'Read-only views for analysts: books, prices over time, categories, crawl runs. See docs/schema.md.';

CREATE VIEW analytics.books AS
SELECT b.id, b.title, b.upc, c.name AS category, c.slug AS category_slug,
       b.price, b.price_excl_tax, b.tax, b.availability, b.availability > 0 AS in_stock,
       b.rating, b.review_count, b.description, b.url, b.image_url,
       b.removed_at IS NULL AS listed, b.first_seen_at, b.last_seen_at, b.removed_at, b.updated_at
FROM books b JOIN categories c ON c.id = b.category_id;

COMMENT ON VIEW analytics.books IS
    'Every book ever crawled from books.toscrape.com with its category name; listed = still on the site.';
COMMENT ON COLUMN analytics.books.id IS 'The site''s numeric book id (a-light-in-the-attic_1000 -> 1000).';
COMMENT ON COLUMN analytics.books.title IS 'Title as shown on the product page.';
COMMENT ON COLUMN analytics.books.upc IS 'Universal Product Code from the product information table; unique.';
COMMENT ON COLUMN analytics.books.category IS 'Category name from the product page breadcrumb.';
COMMENT ON COLUMN analytics.books.category_slug IS 'Category name in URL form ("Historical Fiction" -> "historical-fiction").';
COMMENT ON COLUMN analytics.books.price IS 'Current price including tax, in GBP.';
COMMENT ON COLUMN analytics.books.price_excl_tax IS 'Current price excluding tax, in GBP.';
COMMENT ON COLUMN analytics.books.tax IS 'Tax part of the price, in GBP.';
COMMENT ON COLUMN analytics.books.availability IS 'Units in stock at the last crawl.';
COMMENT ON COLUMN analytics.books.in_stock IS 'True when at least one unit is in stock.';
COMMENT ON COLUMN analytics.books.rating IS 'Star rating, 1 to 5.';
COMMENT ON COLUMN analytics.books.review_count IS 'Number of customer reviews.';
COMMENT ON COLUMN analytics.books.description IS 'Product description, whitespace-normalized; NULL when the page has none.';
COMMENT ON COLUMN analytics.books.url IS 'Product page URL.';
COMMENT ON COLUMN analytics.books.image_url IS 'Cover image URL.';
COMMENT ON COLUMN analytics.books.listed IS 'False once a complete crawl no longer found the book (see removed_at).';
COMMENT ON COLUMN analytics.books.first_seen_at IS 'When a crawl first saw the book.';
COMMENT ON COLUMN analytics.books.last_seen_at IS 'When a crawl last saw the book.';
COMMENT ON COLUMN analytics.books.removed_at IS 'When a complete crawl first missed the book; NULL while listed.';
COMMENT ON COLUMN analytics.books.updated_at IS 'Last change of any stored field (not of last_seen_at).';

-- Every version of a book's price, stock and rating, with the price it replaced.
CREATE VIEW analytics.price_history AS
SELECT h.book_id, b.title, c.name AS category, h.valid_from, h.valid_to, h.price,
       lag(h.price) OVER w AS previous_price,
       h.price - lag(h.price) OVER w AS price_change,
       round(100 * (h.price - lag(h.price) OVER w) / nullif(lag(h.price) OVER w, 0), 2) AS price_change_pct,
       h.availability, h.rating, h.run_id
FROM book_history h JOIN books b ON b.id = h.book_id JOIN categories c ON c.id = b.category_id
WINDOW w AS (PARTITION BY h.book_id ORDER BY h.valid_from, h.id);

COMMENT ON VIEW analytics.price_history IS
    'One row per version of a book''s price, stock and rating; the current version has valid_to NULL.';
COMMENT ON COLUMN analytics.price_history.book_id IS 'The book (analytics.books.id).';
COMMENT ON COLUMN analytics.price_history.title IS 'The book''s current title.';
COMMENT ON COLUMN analytics.price_history.category IS 'The book''s current category name.';
COMMENT ON COLUMN analytics.price_history.valid_from IS 'When the crawl that found these values scraped the page.';
COMMENT ON COLUMN analytics.price_history.valid_to IS 'When a crawl found different values; NULL for the current version.';
COMMENT ON COLUMN analytics.price_history.price IS 'Price including tax in this version, in GBP.';
COMMENT ON COLUMN analytics.price_history.previous_price IS 'Price of the version before; NULL for the first version.';
COMMENT ON COLUMN analytics.price_history.price_change IS 'price - previous_price, in GBP; 0 when only stock or rating changed.';
COMMENT ON COLUMN analytics.price_history.price_change_pct IS 'price_change as a percentage of previous_price, 2 decimals.';
COMMENT ON COLUMN analytics.price_history.availability IS 'Units in stock in this version.';
COMMENT ON COLUMN analytics.price_history.rating IS 'Star rating in this version.';
COMMENT ON COLUMN analytics.price_history.run_id IS 'The crawl run that found this version (analytics.crawl_runs.id).';

CREATE VIEW analytics.price_changes AS
SELECT book_id, title, category, valid_from AS changed_at, previous_price, price, price_change,
       price_change_pct, run_id
FROM analytics.price_history
WHERE previous_price IS NOT NULL AND price <> previous_price;

COMMENT ON VIEW analytics.price_changes IS
    'Every observed price change of a book: the versions of analytics.price_history whose price differs from the one before.';
COMMENT ON COLUMN analytics.price_changes.book_id IS 'The book (analytics.books.id).';
COMMENT ON COLUMN analytics.price_changes.title IS 'The book''s current title.';
COMMENT ON COLUMN analytics.price_changes.category IS 'The book''s current category name.';
COMMENT ON COLUMN analytics.price_changes.changed_at IS 'When the crawl that found the new price scraped the page.';
COMMENT ON COLUMN analytics.price_changes.previous_price IS 'Price including tax before the change, in GBP.';
COMMENT ON COLUMN analytics.price_changes.price IS 'Price including tax after the change, in GBP.';
COMMENT ON COLUMN analytics.price_changes.price_change IS 'price - previous_price, in GBP (negative: cheaper).';
COMMENT ON COLUMN analytics.price_changes.price_change_pct IS 'price_change as a percentage of previous_price, 2 decimals.';
COMMENT ON COLUMN analytics.price_changes.run_id IS 'The crawl run that found the new price.';

-- Figures over the books still listed; removed ones are only counted.
CREATE VIEW analytics.category_summary AS
SELECT c.name AS category, c.slug AS category_slug,
       count(b.id) FILTER (WHERE b.removed_at IS NULL)                                   AS books,
       count(b.id) FILTER (WHERE b.removed_at IS NULL AND b.availability > 0)            AS books_in_stock,
       coalesce(sum(b.availability) FILTER (WHERE b.removed_at IS NULL), 0)              AS units_in_stock,
       round(avg(b.price) FILTER (WHERE b.removed_at IS NULL), 2)                        AS avg_price,
       min(b.price) FILTER (WHERE b.removed_at IS NULL)                                  AS min_price,
       max(b.price) FILTER (WHERE b.removed_at IS NULL)                                  AS max_price,
       round(avg(b.rating) FILTER (WHERE b.removed_at IS NULL), 2)                       AS avg_rating,
       count(b.id) FILTER (WHERE b.removed_at IS NOT NULL)                               AS books_removed,
       max(b.last_seen_at)                                                               AS last_seen_at
FROM categories c LEFT JOIN books b ON b.category_id = c.id
GROUP BY c.id;

COMMENT ON VIEW analytics.category_summary IS
    'One row per category: counts, stock and price/rating figures over its listed books.';
COMMENT ON COLUMN analytics.category_summary.category IS 'Category name.';
COMMENT ON COLUMN analytics.category_summary.category_slug IS 'Category name in URL form.';
COMMENT ON COLUMN analytics.category_summary.books IS 'Listed books in the category.';
COMMENT ON COLUMN analytics.category_summary.books_in_stock IS 'Listed books with at least one unit in stock.';
COMMENT ON COLUMN analytics.category_summary.units_in_stock IS 'Units in stock over the listed books.';
COMMENT ON COLUMN analytics.category_summary.avg_price IS 'Average price including tax of the listed books, GBP, 2 decimals.';
COMMENT ON COLUMN analytics.category_summary.min_price IS 'Lowest price including tax among the listed books, GBP.';
COMMENT ON COLUMN analytics.category_summary.max_price IS 'Highest price including tax among the listed books, GBP.';
COMMENT ON COLUMN analytics.category_summary.avg_rating IS 'Average star rating of the listed books, 2 decimals.';
COMMENT ON COLUMN analytics.category_summary.books_removed IS 'Books of the category no longer on the site.';
COMMENT ON COLUMN analytics.category_summary.last_seen_at IS 'Last time a crawl saw any book of the category.';

CREATE VIEW analytics.crawl_runs AS
SELECT id, spider, status, started_at, finished_at, finished_at - started_at AS duration, finish_reason,
       complete, args, (stats ->> 'response_received_count')::integer AS pages,
       (stats ->> 'item_scraped_count')::integer AS items,
       inserted, updated, unchanged, removed, rejected, duplicates
FROM crawl_runs;

COMMENT ON VIEW analytics.crawl_runs IS 'One row per crawl: when, how it ended, and what it changed.';
COMMENT ON COLUMN analytics.crawl_runs.id IS 'Crawl run id (price_history.run_id and others refer to it).';
COMMENT ON COLUMN analytics.crawl_runs.spider IS 'What was crawled: books (books.toscrape.com) or vitibrasil (Embrapa).';
COMMENT ON COLUMN analytics.crawl_runs.status IS 'running, finished, partial (some data missing), failed, or interrupted (stopped early; what it scraped was kept).';
COMMENT ON COLUMN analytics.crawl_runs.started_at IS 'When the crawl started.';
COMMENT ON COLUMN analytics.crawl_runs.finished_at IS 'When it ended; NULL while running.';
COMMENT ON COLUMN analytics.crawl_runs.duration IS 'finished_at - started_at.';
COMMENT ON COLUMN analytics.crawl_runs.finish_reason IS 'Scrapy''s finish reason (finished, shutdown, ...) or orphaned (its process died).';
COMMENT ON COLUMN analytics.crawl_runs.complete IS 'True when the crawl saw the whole site without errors: only then are missing books marked removed.';
COMMENT ON COLUMN analytics.crawl_runs.args IS 'Spider arguments (JSON), e.g. a category filter.';
COMMENT ON COLUMN analytics.crawl_runs.pages IS 'HTTP responses received.';
COMMENT ON COLUMN analytics.crawl_runs.items IS 'Items scraped (before validation and deduplication).';
COMMENT ON COLUMN analytics.crawl_runs.inserted IS 'Rows the run added.';
COMMENT ON COLUMN analytics.crawl_runs.updated IS 'Rows whose content the run changed.';
COMMENT ON COLUMN analytics.crawl_runs.unchanged IS 'Rows the run saw unchanged.';
COMMENT ON COLUMN analytics.crawl_runs.removed IS 'Rows the run marked removed.';
COMMENT ON COLUMN analytics.crawl_runs.rejected IS 'Scraped items rejected by validation.';
COMMENT ON COLUMN analytics.crawl_runs.duplicates IS 'Scraped items dropped as duplicates within the run.';

-- The role. Roles are cluster-wide (several databases may run this file),
-- grants are per database. Where the migrating user may not create roles
-- (managed hosts such as Heroku) it is skipped with a notice: docs/schema.md
-- shows the grants to give a credential instead.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analyst') THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE NOTICE 'cannot create role analyst here: grant analytics to a credential (docs/schema.md)';
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE analyst NOLOGIN;
            COMMENT ON ROLE analyst IS 'Read-only SQL access to the analytics views; grant it to a login role.';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration created it just now
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO analyst', current_database());
    GRANT USAGE ON SCHEMA analytics TO analyst;
    GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO analyst;
END
$$;

-- PostgreSQL 15 made this the default; on older servers it stops every role
-- but the owner (analysts included) from creating tables in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
