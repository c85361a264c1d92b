"""A crawl that cannot use its database says why in one line and exits 2, before any request."""

from __future__ import annotations

import uuid

import psycopg2.extensions
import pytest

import migrations
from tests.sites.books import BooksSite, generate_books, serve


@pytest.fixture
def role(db_url):
    """A login role on the test server (dropped afterwards): configure() gives it its limits."""
    name = f"crawler_{uuid.uuid4().hex[:8]}"
    admin = migrations.connect(db_url)
    admin.autocommit = True

    def configure(*statements: str) -> str:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {name} LOGIN")
            for statement in statements:
                cur.execute(statement.format(role=name))
        return psycopg2.extensions.make_dsn(db_url, user=name)

    yield configure
    with admin.cursor() as cur:
        cur.execute(f"DROP OWNED BY {name}")
        cur.execute(f"DROP ROLE {name}")
    admin.close()


def one_error_line(result) -> str:
    errors = [line for line in result.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("limits, cause", [
    (["GRANT SELECT ON ALL TABLES IN SCHEMA public, staging TO {role}",
      "GRANT USAGE ON SCHEMA staging TO {role}"], "permission denied for table crawl_runs"),
    (["GRANT INSERT, UPDATE, SELECT ON ALL TABLES IN SCHEMA public, staging TO {role}",
      "GRANT USAGE ON SCHEMA staging TO {role}",
      "ALTER ROLE {role} SET default_transaction_read_only = on"],
     "cannot execute INSERT in a read-only transaction"),
])
def test_an_unprivileged_or_read_only_role_is_one_line_and_exit_2(crawl, role, limits, cause):
    url = role(*limits)
    site = BooksSite(generate_books(5))
    with serve(site) as base_url:
        result = crawl("books", args={"start_url": base_url + "index.html"}, env={"DATABASE_URL": url})
    assert result.returncode == 2
    line = one_error_line(result)
    assert "Crawl not started: database " in line and "is not writable by role crawler_" in line and cause in line
    assert not site.requests


def test_a_held_migrations_lock_stops_the_crawl_within_the_timeout(db_url, crawl):
    holder = migrations.connect(db_url, application_name="stuck session")
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK,))
    holder.commit()
    try:
        result = crawl("books", env={"MIGRATION_LOCK_TIMEOUT": "1"}, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 2
    assert "Crawl not started: migrations lock on " in one_error_line(result)
