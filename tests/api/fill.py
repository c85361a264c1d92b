"""Fill the books tables the way the crawler's pipelines do: a crawl_runs row,
the items into staging.books, then ONE ``merge_books`` (crawler/store.py's SQL,
repeated here because the API side must not import the crawler)."""

from __future__ import annotations

from datetime import datetime, timezone

from psycopg2.extras import execute_values

SITE = "http://books.test/"
STAGING_COLUMNS = ("run_id", "id", "upc", "title", "category", "price", "price_excl_tax", "price_incl_tax",
                   "tax", "availability", "rating", "review_count", "description", "image_url", "url",
                   "scraped_at")


def staging_row(run_id: int, book, scraped_at: datetime) -> tuple:
    """A tests.sites.books.SiteBook as the spider would have staged it."""
    return (run_id, book.id, book.upc, book.title, book.category, book.price_incl_tax, book.price_excl_tax,
            book.price_incl_tax, book.tax, book.availability, book.rating, book.review_count, book.description,
            SITE + book.image_path, SITE + book.path, scraped_at)


def load_books(conn, books, *, complete: bool = True, spider: str = "books") -> int:
    """Stage ``books`` in a new crawl run, merge it, close the run; return its id."""
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider, args) VALUES (%s, '{}') RETURNING id", (spider,))
        run_id = cur.fetchone()[0]
        now = datetime.now(timezone.utc)
        execute_values(cur, f"INSERT INTO staging.books ({', '.join(STAGING_COLUMNS)}) VALUES %s",
                       [staging_row(run_id, book, now) for book in books], page_size=1000)
        cur.execute("SELECT * FROM merge_books(%s, %s)", (run_id, complete))
        inserted, updated, unchanged, removed = cur.fetchone()
        cur.execute(
            "UPDATE crawl_runs SET status = 'finished', finish_reason = 'finished', finished_at = now(),"
            " complete = %s, inserted = %s, updated = %s, unchanged = %s, removed = %s, rejected = 0,"
            " duplicates = 0 WHERE id = %s",
            (complete, inserted, updated, unchanged, removed, run_id),
        )
    return run_id
