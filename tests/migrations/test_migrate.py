"""``python -m migrations``: ordered, recorded, idempotent, safe when started twice at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

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


@contextmanager
def migrations_lock_held(url: str):
    """Another session holding the migrations' advisory lock, as a stuck release or a stray psql would."""
    holder = migrations.connect(url, application_name="stuck session")
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK,))
    holder.commit()
    try:
        yield
    finally:
        holder.close()


def test_a_held_migrations_lock_is_one_error_line_after_the_timeout(db_url):
    with migrations_lock_held(db_url):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "migrations"], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "DATABASE_URL": db_url, "MIGRATION_LOCK_TIMEOUT": "1"},
                                timeout=60)
        waited = time.monotonic() - started
        create_user = subprocess.run([sys.executable, "-m", "flask", "--app", "api", "create-user", "someone"],
                                     cwd=ROOT, input="a long enough password\n", capture_output=True, text=True,
                                     env={**os.environ, "DATABASE_URL": db_url, "API_ENV": "testing",
                                          "MIGRATION_LOCK_TIMEOUT": "1"}, timeout=60)
    assert result.returncode == 2 and waited < 30
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: migrations lock on ")
    assert "still held by stuck session after 1s (MIGRATION_LOCK_TIMEOUT)" in result.stderr
    assert create_user.returncode != 0 and "Traceback" not in create_user.stderr
    assert "still held by stuck session after 1s" in create_user.stderr


def test_a_role_that_may_not_create_tables_says_so_in_one_line(empty_database):
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    admin = migrations.connect(empty_database)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")
    try:
        result = run_migrations(psycopg2.extensions.make_dsn(empty_database, user=role))
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP ROLE {role}")
        admin.close()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"is not writable by role {role}: permission denied for schema public" in result.stderr
