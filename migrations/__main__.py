"""``python -m migrations [migrate|url|stop]``: apply the schema, print the URL, stop the embedded server."""

import argparse
import logging
import sys

from migrations import DatabaseUnavailable, connect, database_url, migrate, redact, stop_embedded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migrations", description=__doc__)
    parser.add_argument("command", nargs="?", default="migrate", choices=["migrate", "url", "stop"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.command == "stop":
        print("embedded database stopped" if stop_embedded() else "embedded database is not running")
        return 0
    url = database_url()
    if args.command == "url":
        print(url)
        return 0
    try:
        conn = connect(url)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        applied = migrate(conn)
    except DatabaseUnavailable as exc:  # lock held past MIGRATION_LOCK_TIMEOUT, or a role that cannot write
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()
    print(f"{redact(url)}: {len(applied)} migration(s) applied" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
