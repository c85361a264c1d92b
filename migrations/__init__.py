"""The database both halves share: where it is, how to reach it, and its schema.

The schema is the contract between the crawler and the API; this package is the
only code both import. ``DATABASE_URL`` (Heroku style, ``postgres://`` accepted)
names the database; when it is unset an embedded PostgreSQL (pgserver) is
started under ``.data/postgres`` and left running so every process shares it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.extensions

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = Path(__file__).resolve().parent
EMBEDDED_DIR = Path(os.environ.get("EMBEDDED_PGDATA", ROOT / ".data" / "postgres"))
# The project's PostgreSQL advisory locks, all in one place. Fixed keys, any value
# no other application on the database uses:
MIGRATION_LOCK = 72_311_001  # pg_advisory_lock(key): serialises migration runs across processes
RUN_LOCK_NAMESPACE = 72_311_002  # pg_advisory_lock(ns, run id): held by the process of a running crawl run
SPIDER_LOCK_NAMESPACE = 72_311_003  # pg_try_advisory_lock(ns, crc32(spider)): held by the worker crawling it
TRAINING_LOCK = 72_311_010  # pg_(try_)advisory_lock(key): one model training at a time (ml/registry.py)
# Seconds a migration run waits for another one's lock before giving up, unless the
# environment's MIGRATION_LOCK_TIMEOUT says otherwise: a stuck session must not hang a release.
MIGRATION_LOCK_TIMEOUT = 60.0

_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used; the message (one line) says which one and why."""


class MigrationLockTimeout(DatabaseUnavailable):
    """Another session held the migrations lock for longer than the timeout."""


class DatabaseNotWritable(DatabaseUnavailable):
    """The role may read but not write what it must (read-only session or missing privilege)."""


# SQLSTATEs of a role that cannot write: insufficient_privilege, read_only_sql_transaction.
_NOT_WRITABLE = {"42501", "25006"}


def not_writable(conn, exc: psycopg2.Error) -> DatabaseNotWritable | None:
    """The one-line error for ``exc`` when it means the role cannot write; None otherwise."""
    if exc.pgcode not in _NOT_WRITABLE:
        return None
    reason = exc.diag.message_primary or " ".join(str(exc).split())
    return DatabaseNotWritable(f"database {describe(conn)} is not writable by role {conn.info.user}: {reason}")


def describe(conn) -> str:
    """user@host:port/dbname of a connection, never its password."""
    info = conn.info
    return f"{info.user}@{info.host}:{info.port}/{info.dbname}"


def database_url(given: str | None = None) -> str:
    """The one resolver of every component's database: ``given`` (a setting of the component: the
    crawl's ``-s DATABASE_URL``, the API's ``API_DATABASE_URL``), else ``DATABASE_URL``, else the
    embedded database."""
    return given or os.environ.get("DATABASE_URL") or embedded_url()


def embedded_url(dbname: str | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL and return a URL to ``dbname``."""
    return embedded_server().get_uri(dbname)


def pgserver():
    """The pgserver module, quiet: it narrates every pg_ctl call at INFO and warns without XDG_RUNTIME_DIR."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def embedded_server():
    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
    # One starter at a time: pgserver's own lock does not cover initdb, and two processes
    # initialising a fresh folder at once (the test workers, as root) fail on its permissions.
    with open(EMBEDDED_DIR.parent / f"{EMBEDDED_DIR.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # cleanup_mode=None: the server outlives this process so the API can share it.
        return pgserver().get_server(EMBEDDED_DIR, cleanup_mode=None)


def stop_embedded() -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    if not (EMBEDDED_DIR / "postmaster.pid").exists():
        return False
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs postgres as this user under root
    # pgserver has no stop for a server another process started: its pg_ctl command does it.
    pgserver().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=EMBEDDED_DIR, user=user)
    return True


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def connect(url: str | None = None, **kwargs):
    """A psycopg2 connection, or DatabaseUnavailable naming the database and the reason."""
    url = url or database_url()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    kwargs.setdefault("connect_timeout", 10)
    kwargs.setdefault("application_name", os.environ.get("DYNO", "books-crawler"))
    try:
        return psycopg2.connect(url, **kwargs)
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise DatabaseUnavailable(f"database unreachable at {redact(url)}: {reason}") from exc


def migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if _MIGRATION_FILE.match(p.name))


def migrate(conn, lock_timeout: float | None = None) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return their names.

    A session advisory lock makes concurrent starts (release phase, crawls, tests)
    wait for each other instead of applying a file twice, for at most
    ``lock_timeout`` seconds (MIGRATION_LOCK_TIMEOUT): then MigrationLockTimeout.
    A role that may not write gets DatabaseNotWritable, naming the real cause.
    """
    if lock_timeout is None:
        lock_timeout = float(os.environ.get("MIGRATION_LOCK_TIMEOUT") or MIGRATION_LOCK_TIMEOUT)
    conn.rollback()
    with conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
        _lock(conn, cur, lock_timeout)
        try:
            return _apply_pending(conn, cur)
        except psycopg2.Error as exc:
            conn.rollback()  # the unlock below must not run inside the aborted transaction
            raise not_writable(conn, exc) or exc
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            conn.commit()


def _lock(conn, cur, timeout: float) -> None:
    # lock_timeout bounds the wait for any heavyweight lock, advisory ones included;
    # set for this transaction only, the lock itself is the session's.
    cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(timeout * 1000))}ms",))
    try:
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        conn.commit()
    except psycopg2.errors.LockNotAvailable:
        conn.rollback()
        cur.execute(
            "SELECT coalesce(nullif(a.application_name, ''), 'pid ' || a.pid) FROM pg_locks l"
            " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1",
            (MIGRATION_LOCK,),
        )
        holder = cur.fetchone()
        conn.rollback()
        raise MigrationLockTimeout(
            f"migrations lock on {describe(conn)} still held by {holder[0] if holder else 'another session'}"
            f" after {timeout:g}s (MIGRATION_LOCK_TIMEOUT)"
        ) from None


def _apply_pending(conn, cur) -> list[str]:
    applied_now = []
    # A migrated database needs no DDL: a role that may only write data can still start.
    cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not cur.fetchone()[0]:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
    cur.execute("SELECT version FROM schema_migrations")
    done = {row[0] for row in cur.fetchall()}
    conn.commit()
    for path in migration_files():
        if path.stem in done:
            continue
        try:
            cur.execute(path.read_text(encoding="utf-8"))
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            if error := not_writable(conn, exc):
                raise error from None
            raise RuntimeError(f"migration {path.name} failed: {exc}") from exc
        applied_now.append(path.stem)
        logger.info("Applied migration %s", path.stem)
    return applied_now


def schema_version(conn) -> str | None:
    with conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT max(version) FROM schema_migrations")
        return cur.fetchone()[0]
