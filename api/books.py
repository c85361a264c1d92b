"""``/api/v1/books``: filtered, sorted, keyset-paginated books (api/paging.py); one book; its history.
A listing reads rows bounded by its page, not by the catalogue: docs/api.md, "Bounded plans", says how."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask import Blueprint, current_app

from api import paging
from api.db import fetch_all, fetch_one
from api.errors import ApiError
from api.operation import operation
from api.schemas.books import BookHistorySchema, BookPageSchema, BookSchema, BooksQuery

bp = Blueprint("books", __name__, url_prefix="/api/v1/books")

# The listing reads api.book_rows (0018_book_rows.sql): books without api.books' category join.
BOOK_COLUMNS = ("id, upc, title, category_id, price, price_excl_tax, price_incl_tax, tax, availability, rating,"
                " review_count, description, image_url, url, first_seen_at, last_seen_at, removed_at, updated_at,"
                " last_run_id")
# What a walk index carries besides its key (0016_bounded_listings.sql): every row filter but the title's.
WALK_COLUMNS = ("category_id", "price", "rating", "availability", "removed_at")
BOOK_ID = "<int(max=2147483647):book_id>"  # books.id is an integer: larger ids are simply absent
# Sort field -> keyset columns; only these names ever reach the SQL text.
SORT_KEYS = {"id": ("id",), "title": ("title", "id"), "price": ("price", "id"),
             "rating": ("rating", "id"), "availability": ("availability", "id")}


@dataclass
class Filters:
    """A listing's conditions on books, by the part they play in its plans (docs/api.md, "Bounded plans")."""
    key: list[str] = field(default_factory=list)  # on the walk index's key: category_id, the sort column's range
    rows: list[str] = field(default_factory=list)  # checked on each row walked (columns the walk index holds)
    title: list[str] = field(default_factory=list)  # the title search: checked on each row, as rows are
    index: list[str] = field(default_factory=list)  # what stands for it in the planner's figures (the rarest trigram)
    trigrams: list[str] | None = None  # every trigram of the title search: a gather's candidates hold them all
    share: float = 1.0  # of the titles, holding the title search, as the trigram statistics tell (_trigrams)
    categories: list[int] | None = None  # the walk's range: these categories (None: all) ...
    bounded: bool = False  # ... entered and left at bounds on the sort column
    figures: dict | None = None  # what the summary cube expects of it (_figures)
    params: dict = field(default_factory=lambda: {"key": [], "rows": [], "title": [], "index": []})

    def add(self, part: str, condition: str, *params) -> None:
        getattr(self, part).append(condition)
        self.params[part] += params

    def where(self, *parts: str) -> tuple[list[str], list]:
        return ([c for part in parts for c in getattr(self, part)], [p for part in parts for p in self.params[part]])


def _filters(args: dict) -> Filters:
    filters, sort = Filters(), args["sort"].lstrip("-")
    if "category" in args:
        ids = filters.categories = _summary()["ids"].get(args["category"].lower(), [])
        if len(ids) == 1:  # one id, so the (category_id, sort, id) index serves the order
            filters.add("key", "category_id = %s", ids[0])
        else:
            filters.add("key", "category_id = ANY (%s)", ids)
    if not args["include_removed"]:
        filters.add("rows", "removed_at IS NULL")
    # A bound on the sort column is where the walk starts or stops: on the key, the others on rows.
    for name, column, condition in (("min_price", "price", "price >= %s"), ("max_price", "price", "price <= %s"),
                                    ("rating", "rating", "rating = %s"), ("min_rating", "rating", "rating >= %s")):
        if name in args:
            filters.add("key" if column == sort else "rows", condition, args[name])
            filters.bounded |= column == sort
    if "in_stock" in args:
        filters.add("key" if sort == "availability" else "rows",
                    "availability > 0" if args["in_stock"] else "availability = 0")
        filters.bounded |= sort == "availability"
    if "q" in args:
        filters.add("title", "lower(title) LIKE lower(%s)", "%" + _escape_like(args["q"]) + "%")
        # The index narrows, LIKE decides. Trigrams are taken here as title_trigrams(lower()) takes them in
        # the database, which only ASCII is sure to share with Python's lower().
        if len(args["q"]) >= 3 and args["q"].isascii() and _summary()["trigrams"] is not None:
            filters.trigrams, filters.share = _trigrams(args["q"])
            # For the planner (the count), the rarest trigram alone: it estimates one share well, but a
            # product of correlated ones so low that it would prefer the trigram index to any other.
            filters.add("index", "title_trigrams(lower(title)) @> %s::text[]", filters.trigrams[:1])
    return filters


def _trigrams(q: str) -> tuple[list[str], float]:
    """q's trigrams, rarest first, and the share of titles holding q, by the index's statistics."""
    frequency = _summary()["trigrams"]
    share = 1.0
    for word in q.lower().split():
        shares = [frequency.get(t, 0) for t in _title_trigrams(word)] or [1]
        # A word's trigrams come together (its rarest says how many hold it); a number's do not.
        share *= math.prod(shares) if word.isdigit() else min(shares)
    return sorted(_title_trigrams(q.lower()), key=lambda t: (frequency.get(t, 0), t)), share


def _title_trigrams(text: str) -> set[str]:
    """What title_trigrams(text) (0009_data_version.sql) answers, for ASCII text."""
    return {text[i:i + 3] for i in range(len(text) - 2)}


def _figures(args: dict, filters: Filters) -> dict:
    """Listed books of the listing's categories by the summary cube (a price window takes its 5-pound
    buckets pro rata): matching every filter but the title's, and in the index range of each."""
    if filters.figures is None:
        low = float(args.get("min_price", 0))
        high = float(args["max_price"]) + 0.01 if "max_price" in args else float("inf")
        rated = {r: r == args["rating"] if "rating" in args else r >= args.get("min_rating", 0) for r in range(1, 6)}
        stock = args.get("in_stock")
        figures = filters.figures = {"matches": 0.0, "priced": 0.0, "rated": 0, "out_of_stock": 0}
        weights, cube = {}, _summary()["cube"]
        for key in filters.categories if filters.categories is not None else [None]:
            for rating, in_stock, bucket_low, books in cube.get(key, ()):
                if (share := weights.get(bucket_low)) is None:
                    share = weights[bucket_low] = max(0.0, min(bucket_low + 5, high) - max(bucket_low, low)) / 5
                figures["priced"] += books * share
                figures["rated"] += books * rated[rating]
                figures["out_of_stock"] += books * (not in_stock)
                figures["matches"] += books * share * (rated[rating] and stock in (None, in_stock))
    return filters.figures


def _summary() -> dict:
    """What the listing's plans and pages take from the summaries and the trigram statistics, per data
    version: category names and slugs by id, ids by lower(name) and slug, each category's "every" and
    "listed" books, the cube (0017_dashboard.sql) by category (None: all) as [(rating, in stock, bucket's
    lowest price, books)], and each trigram's share of the titles (None without 0009's trigram index)."""
    def load():
        categories = fetch_all("SELECT c.id, c.name, c.slug, n.lower_name, n.every, n.listed"
                               " FROM api.categories c JOIN api.category_counts n USING (id)")
        ids, cube, every = {}, {}, {}
        for row in categories:
            for key in {row["lower_name"], row["slug"]}:
                ids.setdefault(key, []).append(row["id"])
        for row in fetch_all("SELECT category_id, rating, in_stock, price_bucket, books FROM api.book_cube"):
            cell = (row["rating"], row["in_stock"], 5 * row["price_bucket"])
            cube.setdefault(row["category_id"], []).append((*cell, row["books"]))
            every[cell] = every.get(cell, 0) + row["books"]
        trigrams = None
        if fetch_one("SELECT to_regclass('books_title_trigrams_idx') IS NOT NULL AS present")["present"]:
            trigrams = {row["e"]: row["f"] for row in fetch_all(
                "SELECT unnest(most_common_elems::text::text[]) AS e, unnest(most_common_elem_freqs) AS f"
                " FROM pg_stats WHERE tablename = 'books_title_trigrams_idx'") if row["e"] is not None}
        return {"names": {row["id"]: (row["name"], row["slug"]) for row in categories}, "ids": ids,
                "sizes": {row["id"]: row for row in categories}, "trigrams": trigrams,
                "cube": cube | {None: [(*cell, books) for cell, books in every.items()]}}
    return paging.remember("books summary", load)


def _catalogue_size(categories: list[int] | None = None, column: str = "every") -> int:
    """Books stored (``every``), or listed (``listed``), in ``categories`` (None: all)."""
    sizes = _summary()["sizes"]
    return sum(row[column] for key, row in sizes.items() if categories is None or key in categories)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Filters whose total the summary tables hold exactly (api.category_counts).
SUMMARY_FILTERS = {"category", "include_removed", "sort", "cursor", "limit"}


@bp.get("")
@operation("List books", query=BooksQuery, response=BookPageSchema, versions=("books",))
def list_books(args):
    """Books matching every given filter, `limit` at a time. Follow `next_cursor`
    (same filters and sort) until it is null to visit each matching book exactly once;
    a page may hold fewer than `limit` books (even none) before the end, when the matches
    are sparse in the sort order. `total` is exact when the page's plan saw every match, when
    at most 1,000 of at most 5,000 books in the walked range match, and always without filters
    other than category and include_removed; otherwise it is an estimate (from the summaries
    and the title statistics, or the planner's) and `total_is_estimate` is true."""
    return book_page(args)


def book_page(args: dict) -> dict:
    """A page of the listing for loaded ``BooksQuery`` arguments (the brief's aliases, api/brief.py, too)."""
    filters = _filters(args)
    where, params = filters.where("key", "rows", "title", "index")
    columns = SORT_KEYS[args["sort"].lstrip("-")]
    summarised = set(args) <= SUMMARY_FILTERS
    listed = "every" if args["include_removed"] else "listed"
    page = paging.page("api.book_rows", where, params, columns=columns, descending=args["sort"].startswith("-"),
                       args=args, limit=args["limit"],
                       exact_total=_catalogue_size(filters.categories, listed) if summarised else None,
                       plan=lambda *page_args: _bounded(filters, args, columns, *page_args),
                       planned=filters.where("key", "rows", "index"))
    names = _summary()["names"]
    for book in page["items"]:
        book["category"], book["category_slug"] = names[book["category_id"]]
    return page


def _bounded(filters: Filters, args: dict, columns: tuple[str, ...], after: list[str], after_params: list,
             order: str, rows: int) -> tuple[list[dict], tuple | None, list | None]:
    """The page by the first bounded plan that answers it (docs/api.md, "Bounded plans": title gather,
    short walk then range gather, long walk), as paging.page's plan; when none does, what the long
    walk found and a cursor resuming after it."""
    walk_rows, sort_rows = current_app.config["API_WALK_ROWS"], current_app.config["API_SORT_ROWS"]
    # A gather that finds more than it may sort has read them for nothing: it is tried only when
    # the statistics expect half as many (the title's trigrams, the summary cube).
    rare_title = bool(filters.trigrams) and filters.share * _catalogue_size() <= sort_rows / 2
    query = (filters, columns, after, after_params, order, rows)
    if rare_title and (gathered := _gather(*query, sort_rows, True)) is not None:
        return gathered
    # Gathering through another filter's index pays only when its range is short and the matches few;
    # otherwise the long walk alone, which stops at a full page as the short one does.
    if not rare_title and _short_range(args, filters, walk_rows):
        found, complete = _walk(*query, sort_rows, "q" in args)
        if len(found) == rows or complete:
            return found, _walk_total(filters, args, found, complete), None
        # Not when the long walk, at the short one's share of matches, fills the page.
        if len(found) * walk_rows < rows * sort_rows and (gathered := _gather(*query, sort_rows, False)) is not None:
            return gathered
    found, complete = _walk(*query, walk_rows, "q" in args)
    total = _walk_total(filters, args, found, complete)
    if len(found) == rows or complete:
        return found, total, None
    where, params = filters.where("key")
    last = fetch_one(f"SELECT {', '.join(columns)} FROM api.book_rows WHERE {paging.where_sql(where + after)}"
                     f" ORDER BY {order} OFFSET %s LIMIT 1", (*params, *after_params, walk_rows - 1))
    return found, total, [last[c] for c in columns]


def _walk_total(filters: Filters, args: dict, found: list, complete: bool) -> tuple[int, bool] | None:
    """The listing's total after a walk, as paging.page takes it: exact when it saw every match; None
    (a capped count) when its range holds at most ``API_SORT_ROWS`` books; else an estimate, the cube's
    matches times the title's share, or the planner's figure for a search without trigrams."""
    if complete:
        return len(found), False
    where, params = filters.where("key")
    size = paging.estimate("api.book_rows", where, params) if filters.bounded else _catalogue_size(filters.categories)
    if size <= current_app.config["API_SORT_ROWS"]:
        return None
    if "q" in args and not filters.trigrams:
        expected = paging.estimate("api.book_rows", *filters.where("key", "rows", "title"))
    else:
        expected = _figures(args, filters)["matches"] * filters.share
        if args["include_removed"]:  # the cube holds listed books only
            expected *= _catalogue_size(filters.categories) / max(1, _catalogue_size(filters.categories, "listed"))
    return max(len(found), round(expected)), True


def _walk(filters, columns, after, after_params, order, rows, walk_rows, title) -> tuple[list[dict], bool]:
    """(The first ``rows`` matches among the next ``walk_rows`` rows in sort order, whether those were
    all the rows left): an Index Only Scan of a walk index, then the page's rows read."""
    where, params = filters.where("key")
    checked, checked_params = filters.where("rows", "title")
    carried = ", ".join(dict.fromkeys(("id", *columns, *WALK_COLUMNS, *(("title",) if title else ()))))
    walk = f"SELECT {carried} FROM api.book_rows WHERE {paging.where_sql(where + after)} ORDER BY {order} LIMIT %s"
    found = fetch_all(
        f"WITH hits AS MATERIALIZED (SELECT {', '.join(dict.fromkeys(('id', *columns)))} FROM ({walk}) walk"
        f"  WHERE {paging.where_sql(checked)} ORDER BY {order} LIMIT %s)"
        # An InitPlan runs only when first needed.
        f" SELECT CASE WHEN (SELECT count(*) FROM hits) < %s"
        f"  THEN (SELECT count(*) FROM (SELECT 1 FROM api.book_rows WHERE {paging.where_sql(where + after)}"
        f"   ORDER BY {order} LIMIT %s) w) END AS walked, b.* FROM (SELECT) one"
        f" LEFT JOIN (SELECT {BOOK_COLUMNS} FROM api.book_rows WHERE id IN (SELECT id FROM hits)) b ON true"
        f" ORDER BY {order}",
        (*params, *after_params, walk_rows, *checked_params, rows, rows, *params, *after_params, walk_rows))
    walked = found[0]["walked"]
    found = [r for r in found if r["id"] is not None]
    return found, walked is not None and walked < walk_rows


def _short_range(args: dict, filters: Filters, walk_rows: int) -> bool:
    """Whether a filter other than the title's selects at most ``walk_rows`` books by an index range
    (what a gather then reads), and the cube expects at most half of ``API_SORT_ROWS`` matches."""
    if not (filters.categories is not None or args.keys() & {"min_price", "max_price", "rating", "min_rating"}
            or args.get("in_stock") is False):
        return False
    figures = _figures(args, filters)
    ranges = [_catalogue_size(filters.categories)] if filters.categories is not None else []
    ranges += [figures["priced"]] if args.keys() & {"min_price", "max_price"} else []
    ranges += [figures["rated"]] if args.keys() & {"rating", "min_rating"} else []
    ranges += [figures["out_of_stock"]] if args.get("in_stock") is False else []
    return min(ranges) <= walk_rows and figures["matches"] * filters.share <= current_app.config["API_SORT_ROWS"] / 2


def _gather(filters, columns, after, after_params, order, rows, sort_rows, by_trigrams):
    """Every match, sorted, as _bounded answers, through the narrowest filter's index (the planner
    chooses) or ``by_trigrams``; None when there are more than ``sort_rows`` matches or candidates."""
    where, params = filters.where("key", "rows", "title")
    keys = ", ".join(dict.fromkeys(("id", *columns)))
    if by_trigrams:
        carried = ", ".join(dict.fromkeys(("id", *columns, *WALK_COLUMNS, "title")))
        matches = (f"candidates AS MATERIALIZED (SELECT {carried} FROM api.book_rows"
                   f"  WHERE title_trigrams(lower(title)) @> %s::text[] LIMIT %s),"
                   f" matches AS MATERIALIZED (SELECT {keys} FROM candidates WHERE {paging.where_sql(where + after)})")
        counted = "(SELECT count(*) FROM candidates)"
        params = (filters.trigrams, sort_rows + 1, *params, *after_params)
    else:
        matches = (f"matches AS MATERIALIZED (SELECT {keys} FROM api.book_rows WHERE {paging.where_sql(where + after)}"
                   f"  LIMIT %s)")
        counted = "(SELECT count(*) FROM matches)"
        params = (*params, *after_params, sort_rows + 1)
    found = fetch_all(
        f"WITH {matches} SELECT m.examined, m.matched, b.* FROM"
        f" (SELECT {counted} AS examined, (SELECT count(*) FROM matches) AS matched) m"
        f" LEFT JOIN (SELECT {BOOK_COLUMNS} FROM api.book_rows"
        f"  WHERE id IN (SELECT id FROM matches ORDER BY {order} LIMIT %s)) b ON true"
        f" ORDER BY {order}", (*params, rows))
    if found[0]["examined"] > sort_rows:
        return None
    return [r for r in found if r["id"] is not None], (found[0]["matched"], False), None


@bp.get(f"/{BOOK_ID}")
@operation("Get a book", response=BookSchema, versions=("books",))
def get_book(book_id):
    """Every column of the book, removed or not, with its category."""
    book = fetch_one("SELECT * FROM api.books WHERE id = %s", (book_id,))
    if book is None:
        raise ApiError(404, f"no book with id {book_id}")
    return book


@bp.get(f"/{BOOK_ID}/history")
@operation("Price, stock and rating history of a book", response=BookHistorySchema, versions=("books",))
def book_history(book_id):
    """One entry per version, oldest first; the current one has valid_to null."""
    rows = fetch_all(
        "SELECT h.price, h.availability, h.rating, h.valid_from, h.valid_to, h.run_id"
        " FROM api.books b LEFT JOIN book_history h ON h.book_id = b.id"
        " WHERE b.id = %s ORDER BY h.valid_from, h.id",
        (book_id,),
    )
    if not rows:
        raise ApiError(404, f"no book with id {book_id}")
    return {"book_id": book_id, "items": [row for row in rows if row["valid_from"] is not None]}
