"""API users: lookup, password check (through the API's read-only connection), and the ``create-user`` /
``disable-user`` CLI (through the owner's ``ADMIN_DATABASE_URL``)."""

from __future__ import annotations

import functools
import sys

import click
import psycopg2
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import check_password_hash, generate_password_hash

import migrations
from api import caching
from api.db import fetch_one

MIN_PASSWORD_LENGTH = 8


def find_active(user_id) -> dict | None:
    """The active user a token's subject names, or None."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    # The data versions come along, in the same round trip: the request reads them next (api/caching.py).
    user = fetch_one("SELECT id, username, (SELECT json_object_agg(scope, version) FROM api.data_versions)"
                     " AS data_versions FROM api_users WHERE id = %s AND active", (user_id,))
    if user is not None:
        caching.read_versions(user.pop("data_versions") or {})
    return user


def authenticate(username: str, password: str) -> dict | None:
    user = fetch_one("SELECT id, username, password_hash FROM api_users WHERE username = %s AND active", (username,))
    # Hash even for unknown users so the answer's timing does not reveal which names exist.
    valid = check_password_hash(user["password_hash"] if user else _decoy_hash(), password)
    return {"id": user["id"], "username": user["username"]} if user and valid else None


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash("not a password")


def init_app(app) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(disable_user)


def _write(statement: str, params: tuple) -> int:
    """Rows ``statement`` changed, through the owner's DATABASE_URL (the API's own may be read-only), migrated first."""
    config = current_app.config
    try:
        conn = migrations.connect(migrations.database_url(config["ADMIN_DATABASE_URL"] or config["DATABASE_URL"]))
        migrations.migrate(conn)  # also one line when the migrations lock is held past MIGRATION_LOCK_TIMEOUT
    except migrations.DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.rowcount
    finally:
        conn.close()


@click.command("create-user")
@click.argument("username")
@with_appcontext
def create_user(username: str) -> None:
    """Create an API user; the password comes from stdin, or a prompt on a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    try:
        _write("INSERT INTO api_users (username, password_hash) VALUES (%s, %s)",
               (username, generate_password_hash(password)))
    except psycopg2.errors.UniqueViolation:
        raise click.ClickException(f"user {username!r} already exists") from None
    except psycopg2.errors.CheckViolation:
        raise click.ClickException(
            f"invalid user name {username!r}: letters, digits and _ . @ -, at most 64 characters") from None
    click.echo(f"created user {username}")


@click.command("disable-user")
@click.argument("username")
@with_appcontext
def disable_user(username: str) -> None:
    """Disable an API user: their tokens stop working at once."""
    if _write("UPDATE api_users SET active = false WHERE username = %s", (username,)) != 1:
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"disabled user {username}")
