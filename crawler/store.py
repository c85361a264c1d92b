"""The SQL side of a crawl run: its ``crawl_runs`` row, staged batches, rejects and the final merge.

Every run holds a session advisory lock on its own id. A ``running`` run whose
lock can be taken has lost its process (kill -9, dyno restart): the next run
merges what it staged, so nothing that was reported stored is lost.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, fields

from psycopg2.extras import Json, execute_values

import migrations

logger = logging.getLogger(__name__)

RUN_LOCK_NAMESPACE = 72_311_002  # first key of pg_advisory_lock(int, int); the second is the run id


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


class CrawlStore:
    def __init__(self, conn, item_classes):
        self.conn = conn
        self.item_classes = tuple(item_classes)
        self.run_id: int | None = None

    @classmethod
    def open(cls, url: str, item_classes) -> CrawlStore:
        """Connect and bring the schema up to date; DatabaseUnavailable when unreachable."""
        conn = migrations.connect(url)
        migrations.migrate(conn)
        return cls(conn, item_classes)

    def close(self) -> None:
        self.conn.close()

    def start_run(self, spider: str, args: dict) -> int:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO crawl_runs (spider, args, host, pid) VALUES (%s, %s, %s, %s) RETURNING id",
                (spider, to_json(args), socket.gethostname(), os.getpid()),
            )
            self.run_id = cur.fetchone()[0]
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, self.run_id))
        return self.run_id

    def recover_orphans(self, spider: str) -> list[tuple[int, MergeCounts]]:
        """Merge what dead runs of ``spider`` staged and mark them interrupted."""
        recovered = []
        with self.conn.cursor() as cur:
            cur.execute("SELECT id FROM crawl_runs WHERE spider = %s AND status = 'running' ORDER BY id", (spider,))
            for (run_id,) in cur.fetchall():
                cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, run_id))
                if not cur.fetchone()[0]:
                    continue  # its process is alive
                try:
                    counts = self.merge_and_finish(run_id, complete=False, status="interrupted", reason="orphaned")
                finally:
                    cur.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK_NAMESPACE, run_id))
                    self.conn.commit()
                recovered.append((run_id, counts))
        self.conn.commit()
        return recovered

    def stage(self, item_class, items: list[dict]) -> None:
        """Write one batch to the item class's staging table in one statement and commit it."""
        columns = [f.name for f in fields(item_class)]
        rows = [(self.run_id, *(item[c] for c in columns)) for item in items]
        with self.conn, self.conn.cursor() as cur:
            execute_values(
                cur,
                f"INSERT INTO {item_class.staging_table} (run_id, {', '.join(columns)}) VALUES %s",
                rows,
                page_size=len(rows),
            )

    def reject(self, spider: str, rejects: list[tuple[str | None, dict, dict]]) -> None:
        """Store (url, errors, item) triples for this run."""
        with self.conn, self.conn.cursor() as cur:
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
        """In ONE transaction: merge every staged item of the run and close its crawl_runs row."""
        total = MergeCounts()
        with self.conn, self.conn.cursor() as cur:
            for item_class in self.item_classes:
                # A run that staged nothing of a class did not crawl it (another spider's, or an
                # empty crawl): merging would only read the absence of every row as removals.
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {item_class.staging_table} WHERE run_id = %s)", (run_id,))
                if not cur.fetchone()[0]:
                    continue
                cur.execute(f"SELECT * FROM {item_class.merge_function}(%s, %s)", (run_id, complete))
                total += MergeCounts(*cur.fetchone())
            cur.execute(
                """
                UPDATE crawl_runs SET status = %s, finish_reason = %s, finished_at = now(), complete = %s,
                       stats = coalesce(%s, stats), inserted = %s, updated = %s, unchanged = %s,
                       removed = %s, duplicates = coalesce(%s, duplicates),
                       rejected = (SELECT count(*) FROM rejects WHERE run_id = %s)
                WHERE id = %s
                """,
                (status, reason, complete, to_json(stats) if stats is not None else None,
                 total.inserted, total.updated, total.unchanged, total.removed, duplicates, run_id, run_id),
            )
        return total

    def run_row(self, run_id: int) -> dict:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT id, status, inserted, updated, unchanged, removed, rejected, duplicates"
                " FROM crawl_runs WHERE id = %s",
                (run_id,),
            )
            return dict(zip([d.name for d in cur.description], cur.fetchone()))
