"""The API unchanged against a PostgreSQL hot standby (API_DATABASE_URL at a streaming replica).

A throwaway primary (initdb) and its standby (pg_basebackup -R) run from
pgserver's binaries, as the pgserver system user when the tests run as root.
Books are merged into the primary through merge_books; the API reads only the
replica, data version and ETags included.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from flask_jwt_extended import create_access_token

import migrations
from api import create_app
from api.db import close_pool
from tests.api.fill import load_books
from tests.helpers import SECRET, query
from tests.sites.books import generate_books


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A server on a Unix socket in ``root`` (no TCP), started and stopped with pg_ctl."""

    def __init__(self, root: Path, name: str, user: str | None):
        self.pgdata, self.root, self.user, self.port = root / name, root, user, free_port()
        self.commands = migrations._pgserver()._commands

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.root}&port={self.port}"

    def start(self) -> None:
        self.commands.pg_ctl(["-w", "-l", str(self.pgdata) + ".log", "-o",
                              f"-p {self.port} -k {self.root} -c listen_addresses=''", "start"],
                             pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.commands.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)


@pytest.fixture
def replica():
    """(primary URL, standby URL) of a migrated primary and its hot standby."""
    user = "pgserver" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="replica-"))
    root.chmod(0o755)
    if user:
        shutil.chown(root, user, user)
    primary, standby = Cluster(root, "primary", user), Cluster(root, "standby", user)
    try:
        primary.commands.initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=primary.pgdata,
                                user=user, timeout=120)
        primary.start()
        conn = migrations.connect(primary.url)
        migrations.migrate(conn)
        conn.close()
        # --checkpoint=fast: the default spread checkpoint paces its writes over minutes (26 s here).
        primary.commands.pg_basebackup(["-D", str(standby.pgdata), "-R", "-X", "stream", "--checkpoint=fast",
                                        "-h", str(root), "-p", str(primary.port), "-U", "postgres"],
                                       user=user, timeout=120)
        standby.start()
        yield primary.url, standby.url
    finally:
        for cluster in (standby, primary):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def caught_up(primary, standby) -> None:
    """Wait until the standby has replayed everything the primary has committed."""
    [(lsn,)] = query(primary, "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 60
    while query(standby, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)) != [(True,)]:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.1)


def test_the_api_reads_a_hot_standby(replica, monkeypatch):
    primary_url, standby_url = replica
    primary, standby = migrations.connect(primary_url), migrations.connect(standby_url)
    assert query(standby, "SELECT pg_is_in_recovery()") == [(True,)]
    books = generate_books(60)
    load_books(primary, books)
    [(user_id,)] = query(primary, "INSERT INTO api_users (username, password_hash) VALUES ('replica', 'x')"
                                  " RETURNING id")
    caught_up(primary, standby)

    monkeypatch.setenv("API_DATABASE_URL", standby_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "JWT_SECRET_KEY": SECRET})
    client = app.test_client()
    with app.app_context():
        auth = {"Authorization": f"Bearer {create_access_token(str(user_id))}"}
    try:
        def get(path, **headers):
            response = client.get(path, headers={**auth, **headers})
            assert response.status_code in (200, 304), response.get_data(as_text=True)
            return response

        [(version,)] = query(primary, "SELECT version FROM data_versions WHERE scope = 'books'")
        first = get("/api/v1/books?sort=-price&limit=5")
        assert first.headers["X-Data-Version"] == f"books={version}"
        assert first.get_json()["total"] == 60
        assert get("/api/v1/stats").get_json()["books"] == 60
        assert sum(c["book_count"] for c in get("/api/v1/categories").get_json()["items"]) == 60
        assert get("/api/v1/books?sort=-price&limit=5", **{"If-None-Match": first.headers["ETag"]}).status_code == 304

        load_books(primary, books)  # unchanged recrawl: nothing served moves
        caught_up(primary, standby)
        assert get("/api/v1/books?sort=-price&limit=5").headers["ETag"] == first.headers["ETag"]

        cheapest = min(books, key=lambda b: b.price_incl_tax)
        books = [dataclasses.replace(b, price_incl_tax=Decimal("999.99")) if b is cheapest else b for b in books]
        load_books(primary, books)
        caught_up(primary, standby)
        after = get("/api/v1/books?sort=-price&limit=5", **{"If-None-Match": first.headers["ETag"]})
        assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
        assert after.get_json()["items"][0]["id"] == cheapest.id
        assert after.headers["X-Data-Version"] != first.headers["X-Data-Version"]
    finally:
        close_pool(app)
        primary.close()
        standby.close()
