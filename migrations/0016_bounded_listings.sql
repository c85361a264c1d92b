-- Listings bounded by their page at any catalogue size (api/books.py, docs/api.md "Bounded plans").
--
-- Every filter the listing accepts is a column of books: each sort walks an index whose
-- key is (sort, id), or (category_id, sort, id) within a category, and that carries the
-- other filter columns and the title (for title search), so a walk filters as an Index
-- Only Scan (no heap visit per row examined) and only the page's rows are read from books. The same indexes serve the
-- other plan, gathering the matches of a selective filter to sort them: a price window
-- (within a category or not), one rating, out of stock. They replace 0001's and 0002's
-- single-column and (sort, id) indexes, which they cover.
SET LOCAL maintenance_work_mem = '256MB';

DROP INDEX books_category_idx, books_price_idx, books_rating_idx,
           books_price_id_idx, books_rating_id_idx, books_title_id_idx, books_availability_id_idx;

CREATE INDEX books_id_walk_idx ON books (id) INCLUDE (category_id, price, rating, availability, removed_at, title);
CREATE INDEX books_title_walk_idx ON books (title, id)
    INCLUDE (category_id, price, rating, availability, removed_at);
CREATE INDEX books_price_walk_idx ON books (price, id)
    INCLUDE (category_id, rating, availability, removed_at, title);
CREATE INDEX books_rating_walk_idx ON books (rating, id)
    INCLUDE (category_id, price, availability, removed_at, title);
CREATE INDEX books_availability_walk_idx ON books (availability, id)
    INCLUDE (category_id, price, rating, removed_at, title);

CREATE INDEX books_category_id_walk_idx ON books (category_id, id)
    INCLUDE (price, rating, availability, removed_at, title);
CREATE INDEX books_category_title_walk_idx ON books (category_id, title, id)
    INCLUDE (price, rating, availability, removed_at);
CREATE INDEX books_category_price_walk_idx ON books (category_id, price, id)
    INCLUDE (rating, availability, removed_at, title);
CREATE INDEX books_category_rating_walk_idx ON books (category_id, rating, id)
    INCLUDE (price, availability, removed_at, title);
CREATE INDEX books_category_availability_walk_idx ON books (category_id, availability, id)
    INCLUDE (price, rating, removed_at, title);
