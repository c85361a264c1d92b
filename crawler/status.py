"""``python -m crawler.status``: one line on the last books crawl and the books stored.

``./dev.sh run`` prints it when the crawl did not finish, before it serves the API over what
the database holds anyway.
"""

from __future__ import annotations

import sys

import migrations
from crawler.store import connect

REASON_CHARS = 300  # a partial run's reason lists pages; the line stays one line


def line(conn) -> str:
    """'crawl run 7 failed (why); 5 books stored'."""
    with conn.cursor() as cur:
        cur.execute("SELECT id, status, finish_reason FROM crawl_runs WHERE spider = 'books'"
                    " ORDER BY started_at DESC, id DESC LIMIT 1")
        run = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM books WHERE removed_at IS NULL")
        books = cur.fetchone()["n"]
    conn.commit()
    if run is None:
        what = "no crawl run recorded"
    else:
        reason = " ".join((run["finish_reason"] or "").split())
        reason = reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS] + "…"
        what = f"crawl run {run['id']} {run['status']}" + (f" ({reason})" if reason else "")
    return f"{what}; {books} book{'' if books == 1 else 's'} stored"


def main() -> int:
    try:
        conn = connect(migrations.database_url())
    except migrations.DatabaseUnavailable as exc:
        print(f"database unusable: {exc}")
        return 2
    try:
        print(line(conn))
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
