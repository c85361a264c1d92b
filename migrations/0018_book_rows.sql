-- The books listing's walks and gathers (api/books.py) read books without api.books' category join.
-- PostgreSQL drops that join from a statement that reads no category column, but only after
-- planning it for each of the view's references: a quarter of a walk's planning time. The listing
-- adds the category names from a cache kept per data version.
CREATE VIEW api.book_rows AS
SELECT id, upc, title, category_id, price, price_excl_tax, price_incl_tax, tax, availability, rating,
       review_count, description, image_url, url, first_seen_at, last_seen_at, removed_at, updated_at,
       last_run_id
FROM books;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'api_reader') THEN
        GRANT SELECT ON api.book_rows TO api_reader;
    END IF;
END
$$;
