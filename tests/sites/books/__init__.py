"""A local copy of books.toscrape.com for tests and benchmarks.

    site = BooksSite(generate_books(100))            # or real_books(FIXTURES)
    with serve(site) as base_url:                     # "http://127.0.0.1:PORT/"
        ...

CLI: python -m tests.sites.books --books 100000 --port 8000 [--seed 0] [--real-templates]
"""
from .data import (BOOKS_FIXTURES, CATEGORIES, CATEGORY_NAMES, FIXTURES, REPO_ROOT, SiteBook, generate_books,
                   real_books, require_fixtures, slugify)
from ..server import make_server, serve
from .site import MALFORMED, BooksSite, escape

__all__ = ["BOOKS_FIXTURES", "CATEGORIES", "CATEGORY_NAMES", "FIXTURES", "MALFORMED", "REPO_ROOT", "BooksSite",
           "SiteBook", "escape", "generate_books", "make_server", "real_books", "require_fixtures",
           "serve", "slugify"]
