"""Serve the local books.toscrape.com copy until killed (for benchmarks).

    python -m tests.sites.books --books 100000 --port 8000 [--seed 0] [--real-templates] [--real-books]
"""
from __future__ import annotations

import argparse
import sys

from .data import BOOKS_FIXTURES, generate_books, real_books
from ..server import make_server
from .site import BooksSite


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.sites.books", description=__doc__.splitlines()[0])
    ap.add_argument("--books", type=int, default=1000, help="number of generated books")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-templates", action="store_true", help="render from the real fixture pages")
    ap.add_argument("--real-books", action="store_true", help="serve the 1000 real books (ignores --books)")
    args = ap.parse_args(argv)
    books = real_books(BOOKS_FIXTURES) if args.real_books else generate_books(args.books, args.seed)
    site = BooksSite(books, real_templates=BOOKS_FIXTURES / "site" if args.real_templates else None)
    server = make_server(site, args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
