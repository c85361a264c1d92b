"""Throwaway PostgreSQL clusters for tests that stop, restart or replicate a server without
disturbing the shared test database: pgserver's initdb, pg_ctl and pg_basebackup (its public
command functions), run as the pgserver system user when the tests run as root."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

import migrations

USER = "pgserver" if os.geteuid() == 0 else None  # postgres refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A cluster in ``root``/``name`` served on 127.0.0.1 at a free port (trust authentication)."""

    def __init__(self, root: Path, name: str):
        self.root, self.pgdata, self.port = root, root / name, free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def initdb(self) -> Cluster:
        migrations.pgserver().initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata,
                                     user=USER, timeout=120)
        return self

    def standby(self, name: str) -> Cluster:
        """A hot standby of this (running) cluster, streaming from it (pg_basebackup -R), not started."""
        standby = Cluster(self.root, name)
        # --checkpoint=fast: the default spread checkpoint paces its writes over minutes (26 s here).
        migrations.pgserver().pg_basebackup(["-D", str(standby.pgdata), "-R", "-X", "stream", "--checkpoint=fast",
                                             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                                            user=USER, timeout=120)
        return standby

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
        migrations.pgserver().pg_ctl(["-w", "-o", options, "-l", f"{self.pgdata}.log", "start"], pgdata=self.pgdata,
                                     user=USER, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """Stop it if it runs (fast: every session ended, cleanly; immediate: as a crash would)."""
        if (self.pgdata / "postmaster.pid").exists():
            migrations.pgserver().pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=USER, timeout=60)


@contextmanager
def cluster_root(prefix: str):
    """A temporary directory the clusters in it can run from; removed with them afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    if USER:
        from pgserver.utils import ensure_user_exists
        ensure_user_exists(USER)
        shutil.chown(root, USER, USER)
    try:
        yield root
    finally:
        for pgdata in root.iterdir():
            if (pgdata / "postmaster.pid").exists():
                Cluster(root, pgdata.name).stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
