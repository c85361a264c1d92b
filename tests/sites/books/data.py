"""Book records for the local books.toscrape.com copy: generated or real (from fixtures)."""
from __future__ import annotations

import csv
import random
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.fixtures import BOOKS as BOOKS_FIXTURES
from tests.fixtures import COMMAND, FIXTURES

REPO_ROOT = Path(__file__).resolve().parents[3]

# The real sidebar, in order; the category number n gives the URL ".../<slug>_<n>/".
CATEGORY_NAMES = [
    "Travel", "Mystery", "Historical Fiction", "Sequential Art", "Classics", "Philosophy",
    "Romance", "Womens Fiction", "Fiction", "Childrens", "Religion", "Nonfiction", "Music",
    "Default", "Science Fiction", "Sports and Games", "Add a comment", "Fantasy", "New Adult",
    "Young Adult", "Science", "Poetry", "Paranormal", "Art", "Psychology", "Autobiography",
    "Parenting", "Adult Fiction", "Humor", "Horror", "History", "Food and Drink",
    "Christian Fiction", "Business", "Biography", "Thriller", "Contemporary", "Spirituality",
    "Academic", "Self Help", "Historical", "Christian", "Suspense", "Short Stories", "Novels",
    "Health", "Politics", "Cultural", "Erotica", "Crime",
]
RATING_WORDS = ["Zero", "One", "Two", "Three", "Four", "Five"]


def slugify(text: str) -> str:
    """Django's slugify (what Oscar uses): ASCII-fold, drop punctuation, hyphenate."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text) or "book"


# name -> (slug, number): "Poetry" -> ("poetry", 23); "Books" (all) is books_1.
CATEGORIES = {name: (slugify(name), i + 2) for i, name in enumerate(CATEGORY_NAMES)}


def category_path(name: str) -> str:
    slug, n = CATEGORIES[name]
    return f"catalogue/category/books/{slug}_{n}/"


@dataclass
class SiteBook:
    id: int
    slug: str
    title: str
    upc: str
    category: str  # display name, e.g. "Poetry"
    price_excl_tax: Decimal
    price_incl_tax: Decimal
    tax: Decimal
    availability: int
    rating: int
    review_count: int
    description: str | None
    image_path: str  # site-root relative, e.g. "media/cache/fe/72/fe72....jpg"

    @property
    def path(self) -> str:
        """Site path of the product page."""
        return f"catalogue/{self.slug}_{self.id}/index.html"


# --- generator -------------------------------------------------------------

_ADJ = ["Silent", "Crimson", "Little", "Hidden", "Broken", "Golden", "Last", "Wild", "Secret",
        "Electric", "Quiet", "Lost", "Brave", "Midnight", "Sweet", "Dark", "Naïve", "Über"]
_NOUN = ["Garden", "River", "Kingdom", "Kitchen", "Machine", "Sonnets", "Attic", "Summer",
         "Letters", "Heart", "Ocean", "Journey", "Café", "Dragon", "Algorithm", "Winter",
         "Mirror", "Tide", "Crown", "Island"]
_NAME = ["Shakespeare", "Amélie", "Müller", "Zoë", "Nan", "O'Brien", "Kitty", "Jürgen",
         "Alice", "Señor Gómez", "Marcus", "Penelope"]
_SERIES = ["Saga", "The Chronicles", "Throne of Glass", "Lumberjanes", "Rat Queens"]
_SENT = [
    "A now-classic collection that celebrates its anniversary with this special edition.",
    "Nan King, an oyster girl, is captivated by the music hall & its bright lights.",
    "\"Erotic and absorbing...\" -- The Review, on a story you won't forget.",
    "Set in Zürich and Besançon, it follows a naïve café owner and her rivals.",
    "With recipes ranging from cookies & cups to crème brûlée, it's a go-to book.",
    "It's hard to imagine a world without it; the verse can amuse the dowdiest reader.",
    "Prices and ratings here were randomly assigned and have no real meaning.",
    "Über-popular blogger Shelly shares 100 recipes — all tested, all \"foolproof\".",
]


def _title(rng: random.Random, i: int) -> str:
    a, n, m, p = rng.choice(_ADJ), rng.choice(_NOUN), rng.choice(_NOUN), rng.choice(_NAME)
    forms = [
        f"The {a} {n}", f"{n} & {m}", f"{p}'s {n}", f'"{a}" {n}: A Memoir of {p}',
        f"A {a} {n} in the {m}", f"{n}", f"{a} {n} ({rng.choice(_SERIES)} #{i % 9 + 1})",
        f"Why {p} Said \"No\" & Other {m} Stories",
    ]
    return forms[i % len(forms)] if i % 3 == 0 else rng.choice(forms)


def _description(rng: random.Random) -> str | None:
    if rng.random() < 0.07:
        return None
    return " ".join(rng.choice(_SENT) for _ in range(rng.randint(1, 6))) + " ...more"


def _price(rng: random.Random) -> tuple[Decimal, Decimal, Decimal]:
    excl = Decimal(rng.randint(1000, 5999)) / 100
    # The real site charges no tax; a few taxed books keep consumers honest.
    tax = (excl * Decimal("0.20")).quantize(Decimal("0.01")) if rng.random() < 0.1 else Decimal("0.00")
    return excl, excl + tax, tax


def _image(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"media/cache/{h[:2]}/{h[2:4]}/{h}.jpg"


def generate_books(n: int, seed: int = 0) -> list[SiteBook]:
    """n deterministic books, ids n..1 (newest first, as the real listing)."""
    rng = random.Random(seed)
    books, upcs = [], set()
    for book_id in range(n, 0, -1):
        title = _title(rng, book_id)
        upc = "%016x" % rng.getrandbits(64)
        while upc in upcs:
            upc = "%016x" % rng.getrandbits(64)
        upcs.add(upc)
        excl, incl, tax = _price(rng)
        books.append(SiteBook(
            id=book_id, slug=slugify(title), title=title, upc=upc,
            category=rng.choice(CATEGORY_NAMES), price_excl_tax=excl, price_incl_tax=incl,
            tax=tax, availability=rng.randint(0, 22), rating=rng.randint(1, 5),
            review_count=rng.randint(1, 9) if rng.random() < 0.1 else 0,
            description=_description(rng), image_path=_image(rng),
        ))
    return books


# --- real data ---------------------------------------------------------------

def books_fixtures_dir(fixtures_dir: Path = FIXTURES) -> Path:
    """The books.toscrape.com fixture folder, given it or its parent."""
    fixtures_dir = Path(fixtures_dir)
    return fixtures_dir if (fixtures_dir / "books.csv").exists() else fixtures_dir / "books.toscrape.com"


def require_fixtures() -> Path:
    """For tests: the books.toscrape.com fixture folder, or pytest.skip when absent."""
    d = books_fixtures_dir()
    if not (d / "books.csv").exists():
        import pytest
        pytest.skip(f"no fixtures at {d}: run {COMMAND}")
    return d


def _money(text: str) -> Decimal:
    return Decimal(text.replace("£", "").replace(",", ""))


def real_books(fixtures_dir: Path = FIXTURES) -> list[SiteBook]:
    """The 1000 real books from books.csv (FileNotFoundError if absent)."""
    books = []
    with open(books_fixtures_dir(fixtures_dir) / "books.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            slug, book_id = re.search(r"/catalogue/(.+)_(\d+)/index\.html", row["product_page_url"]).groups()
            incl, excl = _money(row["price_including_tax"]), _money(row["price_excluding_tax"])
            stock = re.search(r"\((\d+) available\)", row["number_available"])
            books.append(SiteBook(
                id=int(book_id), slug=slug, title=row["title"], upc=row["upc"],
                category=row["category"], price_excl_tax=excl, price_incl_tax=incl, tax=incl - excl,
                availability=int(stock.group(1)) if stock else 0,
                rating=RATING_WORDS.index(row["review_rating"]), review_count=0,
                description=row["product_description"] or None,
                image_path=row["image_url"].split("books.toscrape.com/", 1)[1],
            ))
    return books
