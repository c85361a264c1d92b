"""``python -m migrations``: ordered, recorded, idempotent, safe when started twice at once."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg2

import migrations
from tests.helpers import ROOT, query


def run_migrations(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migrations"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120)


def test_applies_every_file_in_order_then_nothing(empty_database):
    first = run_migrations(empty_database)
    assert first.returncode == 0, first.stderr
    names = [p.stem for p in migrations.migration_files()]
    assert f"{len(names)} migration(s) applied" in first.stdout
    conn = migrations.connect(empty_database)
    assert [r[0] for r in query(conn, "SELECT version FROM schema_migrations ORDER BY applied_at, version")] == names
    assert migrations.schema_version(conn) == names[-1]
    conn.close()

    again = run_migrations(empty_database)
    assert again.returncode == 0 and "0 migration(s) applied" in again.stdout


def test_concurrent_starts_apply_each_migration_once(empty_database):
    def migrate_once(_):
        conn = migrations.connect(empty_database)
        try:
            return migrations.migrate(conn)
        finally:
            conn.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(migrate_once, range(4)))
    assert sorted(map(len, results)) == [0, 0, 0, len(migrations.migration_files())]


def test_unreachable_database_is_one_clear_error():
    result = run_migrations("postgresql://nobody:secret@127.0.0.1:1/nothing")
    assert result.returncode == 2
    assert result.stderr.startswith("error: database unreachable at postgresql://nobody:***@127.0.0.1:1/nothing")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_heroku_style_postgres_scheme_is_accepted(db_url):
    params = psycopg2.connect(db_url).get_dsn_parameters()
    url = f"postgres://{params['user']}@:{params['port']}/{params['dbname']}?host={params['host']}"
    conn = migrations.connect(url)
    assert query(conn, "SELECT 1") == [(1,)]
    conn.close()
