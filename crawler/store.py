"""Every SQL statement of the crawler about runs, staging, rejects, merges, schedules and locks.

Every run holds a session advisory lock on its own id. A ``running`` run whose
lock can be taken has lost its process (kill -9, dyno restart, database
restart that outlasted the retry window): the next run merges what it staged,
so nothing that was reported stored is lost.

Staging writes and the merge survive a database restart: the store reconnects,
takes its run's lock again and retries for ``retry_seconds`` (POSTGRES_RETRY_SECONDS)
before giving up with DatabaseUnavailable. Staged rows may then be written twice;
the merge functions keep one row per key, so that is harmless.

Rows are dicts (RealDictCursor on every connection this module opens).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import zlib
from dataclasses import dataclass, fields

import psycopg2
from psycopg2.extras import Json, RealDictCursor, execute_values

import migrations
from crawler.outcome import PARTIAL
from migrations import RUN_LOCK_NAMESPACE, SPIDER_LOCK_NAMESPACE, DatabaseUnavailable

logger = logging.getLogger(__name__)

RUN_COLUMNS = "id, status, finish_reason, inserted, updated, unchanged, removed, rejected, duplicates"
COUNTS = ("inserted", "updated", "unchanged", "removed", "rejected", "duplicates")
# What a running crawl writes into its row at each flush (0017_dashboard.sql); the merge then sets rejected.
PROGRESS_COLUMNS = ("pages", "items", "staged", "rejected", "rate", "expected", "eta")
# Errors after which the connection is gone: reconnect and retry.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)

# What a complete run's merge would mark removed, and out of how many live rows, per merge function:
# the removal safety net (REMOVAL_MAX_FRACTION) compares them before calling the merge.
REMOVALS = {
    "merge_books": ("books", """
        SELECT (SELECT count(*) FROM books WHERE removed_at IS NULL) AS live,
               (SELECT count(*) FROM books b WHERE b.removed_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM staging.books s WHERE s.run_id = %(run)s AND s.id = b.id)) AS removing
    """),
    "vitibrasil.merge_observations": ("observations", """
        SELECT (SELECT count(*) FROM vitibrasil.observations WHERE removed_at IS NULL) AS live,
               (SELECT count(*) FROM vitibrasil.observations o WHERE o.removed_at IS NULL
                  AND (o.dataset, o.year) IN (SELECT dataset, year FROM staging.vitibrasil_observations
                                              WHERE run_id = %(run)s)
                  AND NOT EXISTS (SELECT 1 FROM staging.vitibrasil_observations s
                                  WHERE s.run_id = %(run)s AND s.dataset = o.dataset AND s.year = o.year
                                    AND s.item = o.item
                                    AND coalesce(s.category, '') = coalesce(o.category, ''))) AS removing
    """),
}


class RunLost(RuntimeError):
    """While the database was away, another process recovered (merged and closed) this run."""


def connect(url: str, **kwargs):
    """A connection whose cursors return dict rows; DatabaseUnavailable when unreachable."""
    return migrations.connect(url, cursor_factory=RealDictCursor, **kwargs)


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def __iadd__(self, other: MergeCounts) -> MergeCounts:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def to_json(value) -> Json:
    """jsonb parameter for anything a spider or Scrapy's stats hold (Decimal, datetime, ...)."""
    return Json(value, dumps=lambda v: json.dumps(v, default=str))


# The files of the most recent run that read a dataset, with that run's arguments.
LATEST_FILES = """
WITH latest AS (
    SELECT max(x.run_id) AS run_id
    FROM vitibrasil.raw_file_fetches x JOIN vitibrasil.raw_files f ON f.id = x.raw_file_id
    WHERE f.dataset = %(dataset)s
)
SELECT f.kind, f.year, x.url, f.content_type, f.body, r.args
FROM latest JOIN vitibrasil.raw_file_fetches x ON x.run_id = latest.run_id
JOIN vitibrasil.raw_files f ON f.id = x.raw_file_id AND f.dataset = %(dataset)s
JOIN crawl_runs r ON r.id = latest.run_id
ORDER BY f.kind, f.year
"""


def latest_raw_files(conn, dataset: str) -> list[dict]:
    """The raw files of the most recent run that read ``dataset``, with that run's arguments (for the rebuild)."""
    with conn.cursor() as cur:
        cur.execute(LATEST_FILES, {"dataset": dataset})
        files = cur.fetchall()
    conn.commit()
    return files


def _run(cur, where: str, params) -> dict | None:
    cur.execute(f"SELECT {RUN_COLUMNS} FROM crawl_runs WHERE {where} ORDER BY id DESC LIMIT 1", params)
    return cur.fetchone()


class CrawlStore:
    def __init__(self, conn, item_classes, *, url: str | None = None, retry_seconds: float = 0.0,
                 removal_max_fraction: float = 0.05):
        self.conn = conn
        self.url = url
        self.item_classes = tuple(item_classes)
        self.retry_seconds = retry_seconds
        self.removal_max_fraction = removal_max_fraction
        self.run_id: int | None = None

    @classmethod
    def open(cls, url: str, item_classes, **options) -> CrawlStore:
        """Connect, bring the schema up to date and check the role may write.

        DatabaseUnavailable (or its subclasses: not writable, migrations lock held) when that is impossible.
        """
        conn = connect(url)
        try:
            migrations.migrate(conn)
            _check_writable(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, item_classes, url=url, **options)

    def close(self) -> None:
        self.conn.close()

    # Retries --------------------------------------------------------------------------
    def _transaction(self, what: str, work):
        """``work(cursor)`` in one transaction, reconnecting and retrying while the connection is lost."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                if self.conn.closed:
                    self._reconnect()
                with self.conn, self.conn.cursor() as cur:
                    return work(cur)
            except CONNECTION_ERRORS as exc:
                if not self.conn.closed and not isinstance(exc, psycopg2.InterfaceError):
                    raise  # the connection is fine: the statement itself failed
                error = " ".join(str(exc).split()) or type(exc).__name__
            except _Reconnecting as exc:
                error = str(exc)
            if self.url is None or time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(
                    f"{what}: database unusable for {self.retry_seconds:g}s (POSTGRES_RETRY_SECONDS): {error}")
            logger.warning("%s: database connection lost (%s); retrying in %.1fs", what, error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _reconnect(self) -> None:
        try:
            conn = connect(self.url)
        except DatabaseUnavailable as exc:
            raise _Reconnecting(str(exc)) from exc
        if self.run_id is not None:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s, %s) AS locked", (RUN_LOCK_NAMESPACE, self.run_id))
                locked = cur.fetchone()["locked"]
                status = _run(cur, "id = %s", (self.run_id,))["status"]
            conn.commit()
            if status != "running":
                conn.close()
                raise RunLost(f"crawl run {self.run_id} was closed by another process ({status}) "
                              "while the database was away")
            if not locked:  # the old session is not gone yet (or another process is recovering the run)
                conn.close()
                raise _Reconnecting(f"the lock of crawl run {self.run_id} is still held")
        self.conn.close()
        self.conn = conn
        logger.warning("Reconnected to the database")

    # A run -------------------------------------------------------------------------------
    def start_run(self, spider: str, args: dict) -> int:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO crawl_runs (spider, args, host, pid) VALUES (%s, %s, %s, %s) RETURNING id",
                (spider, to_json(args), socket.gethostname(), os.getpid()),
            )
            self.run_id = cur.fetchone()["id"]
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, self.run_id))
        return self.run_id

    def recover_orphans(self, spider: str) -> list[tuple[int, MergeCounts]]:
        """Merge what dead runs of ``spider`` staged and mark them interrupted."""
        recovered = []
        with self.conn.cursor() as cur:
            cur.execute("SELECT id FROM crawl_runs WHERE spider = %s AND status = 'running' ORDER BY id", (spider,))
            for run_id in [row["id"] for row in cur.fetchall()]:
                cur.execute("SELECT pg_try_advisory_lock(%s, %s) AS locked", (RUN_LOCK_NAMESPACE, run_id))
                if not cur.fetchone()["locked"]:
                    continue  # its process is alive
                try:
                    counts = self.merge_and_finish(run_id, complete=False, status="interrupted", reason="orphaned")
                finally:
                    cur.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK_NAMESPACE, run_id))
                    self.conn.commit()
                recovered.append((run_id, counts))
        self.conn.commit()
        return recovered

    def write(self, batches: dict[type, list[dict]], spider: str, rejects: list[tuple],
              progress: dict | None = None) -> None:
        """Stage batches of items, store rejects and record the run's ``progress`` (PROGRESS_COLUMNS) in
        one transaction, surviving a database restart."""
        def work(cur):
            for item_class, items in batches.items():
                if items:
                    self._stage(cur, item_class, items)
            if rejects:
                self._reject(cur, spider, rejects)
            if progress is not None:
                cur.execute(f"UPDATE crawl_runs SET {', '.join(f'{c} = %({c})s' for c in PROGRESS_COLUMNS)},"
                            " progress_at = now() WHERE id = %(run)s AND status = 'running'",
                            {**progress, "run": self.run_id})
        self._transaction(f"staging for crawl run {self.run_id}", work)

    def stage(self, item_class, items: list[dict]) -> None:
        """Write one batch to the item class's staging table in one statement and commit it."""
        self._transaction(f"staging for crawl run {self.run_id}", lambda cur: self._stage(cur, item_class, items))

    def reject(self, spider: str, rejects: list[tuple[str | None, dict, dict]]) -> None:
        """Store (url, errors, item) triples for this run."""
        self._transaction(f"rejects of crawl run {self.run_id}", lambda cur: self._reject(cur, spider, rejects))

    def _stage(self, cur, item_class, items: list[dict]) -> None:
        columns = [f.name for f in fields(item_class)]
        execute_values(
            cur,
            f"INSERT INTO {item_class.staging_table} (run_id, {', '.join(columns)}) VALUES %s",
            [(self.run_id, *(item[c] for c in columns)) for item in items],
            page_size=len(items),
        )

    def _reject(self, cur, spider: str, rejects: list[tuple]) -> None:
        execute_values(
            cur,
            "INSERT INTO rejects (run_id, spider, url, errors, item) VALUES %s",
            [(self.run_id, spider, url, to_json(errors), to_json(item)) for url, errors, item in rejects],
            page_size=len(rejects),
        )

    def merge_and_finish(
        self, run_id: int, *, complete: bool, status: str, reason: str,
        stats: dict | None = None, duplicates: int | None = None,
    ) -> MergeCounts:
        """In ONE transaction: merge every staged item of the run and close its crawl_runs row.

        A complete run that would mark more than ``removal_max_fraction`` of a table's live
        rows removed is merged as not complete and closed 'partial', saying why.
        Retried after a lost connection (a merge that committed is not repeated).
        """
        def work(cur) -> MergeCounts:
            total = MergeCounts()
            cur.execute("SELECT status FROM crawl_runs WHERE id = %s FOR UPDATE", (run_id,))
            if cur.fetchone()["status"] != "running":  # committed before the connection was lost
                row = _run(cur, "id = %s", (run_id,))
                return MergeCounts(row["inserted"], row["updated"], row["unchanged"], row["removed"])
            staged = []
            for item_class in self.item_classes:
                # A run that staged nothing of a class did not crawl it (another spider's, or an
                # empty crawl): merging would only read the absence of every row as removals.
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {item_class.staging_table} WHERE run_id = %s) AS any",
                            (run_id,))
                if cur.fetchone()["any"]:
                    staged.append(item_class)
            final_status, final_reason, merge_complete = status, reason, complete
            if complete and (held := self._removal_net(cur, run_id, staged)):
                final_status, final_reason, merge_complete = PARTIAL, held, False
                logger.warning("Crawl run %s: %s", run_id, held)
            for item_class in staged:
                cur.execute(f"SELECT * FROM {item_class.merge_function}(%s, %s)", (run_id, merge_complete))
                row = cur.fetchone()
                total += MergeCounts(row["inserted"], row["updated"], row["unchanged"], row["removed"])
            cur.execute(
                """
                UPDATE crawl_runs SET status = %s, finish_reason = %s, finished_at = now(), complete = %s,
                       stats = coalesce(%s, stats), inserted = %s, updated = %s, unchanged = %s,
                       removed = %s, duplicates = coalesce(%s, duplicates),
                       rejected = (SELECT count(*) FROM rejects WHERE run_id = %s)
                WHERE id = %s
                """,
                (final_status, final_reason, merge_complete, to_json(stats) if stats is not None else None,
                 total.inserted, total.updated, total.unchanged, total.removed, duplicates, run_id, run_id),
            )
            return total
        return self._transaction(f"merge of crawl run {run_id}", work)

    def _removal_net(self, cur, run_id: int, staged) -> str | None:
        """Why a complete run must not remove what it did not see (too large a share), or None."""
        if self.removal_max_fraction >= 1:
            return None
        for item_class in staged:
            if item_class.merge_function not in REMOVALS:
                continue
            label, query = REMOVALS[item_class.merge_function]
            # A batch-filled staging table has no statistics: without them the planner picks a nested-loop
            # anti-join (minutes for a Vitibrasil run's 57k rows against as many stored ones).
            cur.execute(f"ANALYZE {item_class.staging_table}")
            cur.execute(query, {"run": run_id})
            row = cur.fetchone()
            if row["live"] and row["removing"] > self.removal_max_fraction * row["live"]:
                return (f"removal safety net: the run would mark {row['removing']} of {row['live']} {label} removed"
                        f" ({row['removing'] / row['live']:.1%} > REMOVAL_MAX_FRACTION {self.removal_max_fraction:g});"
                        " nothing removed (override: -s REMOVAL_MAX_FRACTION=1)")
        return None

    def run_row(self, run_id: int) -> dict:
        return self._transaction(f"crawl run {run_id}", lambda cur: _run(cur, "id = %s", (run_id,)))


def mark_failed(url: str, run_id: int, reason: str) -> None:
    """Close a run 'failed' on a fresh connection (the run's own may be what failed)."""
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE crawl_runs SET status = 'failed', finish_reason = %s, finished_at = now()"
                " WHERE id = %s AND status = 'running'",
                (reason, run_id),
            )
    finally:
        conn.close()


def _check_writable(conn) -> None:
    """DatabaseNotWritable, naming the real cause, when this role cannot record a run (checked, rolled back)."""
    try:
        with conn.cursor() as cur:
            # id 0: no run has it, and no sequence value is used up
            cur.execute("INSERT INTO crawl_runs (id, spider) VALUES (0, 'write check')")
    except psycopg2.Error as exc:
        conn.rollback()
        raise migrations.not_writable(conn, exc) or exc
    conn.rollback()


class _Reconnecting(Exception):
    """A reconnection attempt failed; retried until the window closes."""


# The worker's side: one spider lock per spider, and scheduled_crawls --------------------------

def spider_lock_key(spider: str) -> int:
    return zlib.crc32(spider.encode()) & 0x7FFF_FFFF


class ScheduleLedger:
    """One worker firing: the spider's lock (held while this connection lives) and its scheduled_crawls row."""

    def __init__(self, conn, spider: str, worker: str):
        self.conn = conn
        self.spider = spider
        self.worker = worker

    @classmethod
    def open(cls, url: str, spider: str, worker: str) -> ScheduleLedger:
        conn = connect(url, application_name=f"crawl worker {worker}", keepalives=1, keepalives_idle=60)
        conn.autocommit = True
        return cls(conn, spider, worker)

    def close(self) -> None:
        self.conn.close()  # releases the lock, whatever happened

    def try_lock(self) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s) AS locked",
                        (SPIDER_LOCK_NAMESPACE, spider_lock_key(self.spider)))
            return cur.fetchone()["locked"]

    def lock_holder(self) -> str:
        """The holder's application_name (it names its worker from the moment it has the lock)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s"
                " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (SPIDER_LOCK_NAMESPACE, spider_lock_key(self.spider)),
            )
            row = cur.fetchone()
        return row["application_name"] if row and row["application_name"] else "another session"

    def skipped(self, detail: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO scheduled_crawls (spider, outcome, finished_at, worker, detail)"
                " VALUES (%s, 'skipped', now(), %s, %s)",
                (self.spider, self.worker, detail),
            )

    def begin(self) -> tuple[int, object]:
        """(record id, started_at) of a new firing; holding the lock, a 'running' row is a dead worker's."""
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE scheduled_crawls SET outcome = 'interrupted', finished_at = now(),"
                " detail = 'the worker stopped before the crawl ended'"
                " WHERE spider = %s AND outcome = 'running'",
                (self.spider,),
            )
            cur.execute("INSERT INTO scheduled_crawls (spider, worker) VALUES (%s, %s) RETURNING id, started_at",
                        (self.spider, self.worker))
            row = cur.fetchone()
        return row["id"], row["started_at"]

    def end(self, record_id: int, outcome: str, code: int | None, run_id: int | None, detail: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE scheduled_crawls SET outcome = %s, finished_at = now(), exit_code = %s, run_id = %s,"
                " detail = %s WHERE id = %s",
                (outcome, code, run_id, detail, record_id),
            )

    def run_of(self, pid: int, since, host: str | None = None) -> dict | None:
        """The crawl_runs row the child ``pid`` (of this host) started since ``since``."""
        with self.conn.cursor() as cur:
            return _run(cur, "spider = %s AND host = %s AND pid = %s AND started_at >= %s",
                        (self.spider, host or socket.gethostname(), pid, since))

    def run(self, run_id: int) -> dict:
        with self.conn.cursor() as cur:
            return _run(cur, "id = %s", (run_id,))
