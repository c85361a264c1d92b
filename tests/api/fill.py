"""Fill the books tables the way a crawl does: the items a crawl of ``SITE`` would yield, through the store;
or, for catalogues of any size, generated rows through the same merge (``fill``, the README's benchmarks)."""

from __future__ import annotations

import dataclasses
import re
from contextlib import contextmanager
from datetime import datetime, timezone

import migrations
from crawler.items import BookItem
from tests.crawler.helpers import store_run
from tests.helpers import new_database

SITE = "http://books.test/"


def book_item(book, scraped_at: datetime) -> BookItem:
    """A tests.sites.books.SiteBook as the spider would have yielded it."""
    return BookItem(id=book.id, upc=book.upc, title=book.title, category=book.category, price=book.price_incl_tax,
                    price_excl_tax=book.price_excl_tax, price_incl_tax=book.price_incl_tax, tax=book.tax,
                    availability=book.availability, rating=book.rating, review_count=book.review_count,
                    description=book.description, image_url=SITE + book.image_path, url=SITE + book.path,
                    scraped_at=scraped_at)


def load_books(conn, books, *, complete: bool = True, spider: str = "books") -> int:
    """Stage ``books`` in a new crawl run, merge it, close the run; return its id."""
    now = datetime.now(timezone.utc)
    return store_run(conn, spider, BookItem, [dataclasses.asdict(book_item(b, now)) for b in books], complete=complete)


CATEGORIES = ["Travel", "Mystery", "Historical Fiction", "Sequential Art", "Classics", "Philosophy", "Romance",
              "Womens Fiction", "Fiction", "Childrens", "Religion", "Nonfiction", "Music", "Default",
              "Science Fiction", "Sports and Games", "Add a comment", "Fantasy", "New Adult", "Young Adult",
              "Science", "Poetry", "Paranormal", "Art", "Psychology", "Autobiography", "Parenting", "Adult Fiction",
              "Humor", "Horror", "History", "Food and Drink", "Christian Fiction", "Business", "Biography",
              "Thriller", "Contemporary", "Spirituality", "Academic", "Self Help", "Historical", "Christian",
              "Suspense", "Short Stories", "Novels", "Health", "Politics", "Cultural", "Erotica", "Crime"]
ADJECTIVES = ["Silent", "Crimson", "Little", "Hidden", "Broken", "Golden", "Last", "Wild", "Secret", "Midnight"]
NOUNS = ["Garden", "River", "Kingdom", "Kitchen", "Machine", "Sonnets", "Attic", "Summer", "Letters", "Heart",
         "Ocean", "Journey", "Dragon", "Algorithm", "Winter", "Mirror", "Tide", "Crown", "Island", "Cafe"]

# h(k): a pseudo-random non-negative integer per (book, attribute), so attributes are independent.
FILL = """
INSERT INTO staging.books (run_id, id, upc, title, category, price, price_excl_tax, price_incl_tax, tax,
                           availability, rating, review_count, description, image_url, url, scraped_at)
SELECT %(run)s, i, lpad(to_hex(i), 16, '0'),
       (%(adjectives)s::text[])[1 + h(1) %% 10] || ' ' || (%(nouns)s::text[])[1 + h(2) %% 20] || ' ' || i,
       (%(categories)s::text[])[1 + h(3) %% 50],
       p, p, p, 0, h(4) %% 23, 1 + h(5) %% 5, h(6) %% 4,
       'A generated description of book ' || i || ', long enough to look like the real ones. ...more',
       'http://books.test/media/cache/' || md5(i::text) || '.jpg',
       'http://books.test/catalogue/book_' || i || '/index.html', now()
FROM generate_series(1::bigint, %(books)s) AS i,
     LATERAL (SELECT (1000 + h(7) %% 5000) / 100.0 AS p) AS price
"""
FILL = re.sub(r"h\((\d)\)", r"abs(hashint8(i * 8 + \1)::bigint)", FILL)


def fill(url: str, books: int) -> None:
    """``books`` generated books in the migrated database at ``url``: one complete run merged, then
    every 25th marked removed, the summaries refreshed, the data version moved, VACUUM ANALYZE."""
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO crawl_runs (spider) VALUES ('books') RETURNING id")
        run = cur.fetchone()[0]
        cur.execute(FILL, {"run": run, "books": books, "adjectives": ADJECTIVES, "nouns": NOUNS,
                           "categories": CATEGORIES})
        cur.execute("SELECT * FROM merge_books(%s, true)", (run,))
        cur.execute("UPDATE crawl_runs SET status = 'finished', finish_reason = 'finished', finished_at = now(),"
                    " complete = true WHERE id = %s", (run,))
    with conn, conn.cursor() as cur:  # books a later complete crawl no longer found, as the summaries see them
        cur.execute("UPDATE books SET removed_at = now() WHERE id % 25 = 0")
        cur.execute("SELECT refresh_book_summaries(), bump_data_version('books', NULL)")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


@contextmanager
def filled_database(server_url: str, books: int, prefix: str):
    """The URL of a new database on ``server_url``, migrated and ``fill``ed; dropped afterwards."""
    with new_database(server_url, prefix) as url:
        conn = migrations.connect(url)
        migrations.migrate(conn)
        conn.close()
        fill(url, books)
        yield url
