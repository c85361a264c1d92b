"""``/api/v1/auth``: tokens for a username and password, and fresh access tokens. Every token failure is a JSON
401, and every request re-reads the token's user, so disabling one stops their tokens at once. Users are read
through the API's read-only connection and written by the ``create-user`` / ``disable-user`` CLI, through the
owner's ``ADMIN_DATABASE_URL``."""

from __future__ import annotations

import functools
import sys

import click
import psycopg2
from flask import Blueprint, current_app
from flask.cli import with_appcontext
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, get_jwt_identity
from marshmallow import Schema, fields, validate
from werkzeug.security import check_password_hash, generate_password_hash

import migrations
from api import limits
from api.db import fetch_one
from api.errors import ApiError, error_response
from api.operation import operation
from api.schemas.common import doc

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")
jwt = JWTManager()
MIN_PASSWORD_LENGTH = 8


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024))


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata=doc("Always Bearer."))
    expires_in = fields.Integer(required=True, metadata=doc("Lifetime of the access token, in seconds."))


class TokenPairSchema(AccessTokenSchema):
    refresh_token = fields.String(required=True)

    class Meta:
        fields = ("access_token", "refresh_token", "token_type", "expires_in")  # the order of the answer


def init_app(app) -> None:
    # Only our own algorithm: "alg: none" and RS/ES tokens fail verification.
    app.config.setdefault("JWT_ALGORITHM", "HS256")
    app.config["JWT_DECODE_ALGORITHMS"] = [app.config["JWT_ALGORITHM"]]
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers"])
    jwt.init_app(app)
    app.cli.add_command(create_user)
    app.cli.add_command(disable_user)


def _access(identity: str) -> dict:
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {"access_token": create_access_token(identity), "token_type": "Bearer",
            "expires_in": int(lifetime.total_seconds())}


@operation("Log in", body=LoginSchema, response=TokenPairSchema, auth=None, errors=(401, 413, 429, 503))
def login(body):
    """Exchange a username and password for an access token (for every other
    endpoint) and a refresh token (for /auth/refresh). Disabled users cannot log in.
    Attempts are limited per client address and failures per username: 429 with
    Retry-After beyond that."""
    with limits.password_check():
        user = authenticate(body["username"], body["password"])
    if user is None:
        raise ApiError(401, "invalid username or password", code="invalid_credentials")
    identity = str(user["id"])  # the id, not the name: a re-created name gets no old tokens
    return {**_access(identity), "refresh_token": create_refresh_token(identity)}


@bp.record
def _login_route(state) -> None:
    """Login is routed behind the limits of the app it is registered on (api/limits.py)."""
    state.add_url_rule("/login", view_func=limits.limited(state.app, login), methods=["POST"])


@bp.post("/refresh")
@operation("Refresh the access token", response=AccessTokenSchema, auth="refresh")
def refresh():
    """Send the refresh token as the Bearer token; get a new access token."""
    return _access(get_jwt_identity())


def unauthorized(code: str, message: str):
    # RFC 6750: no error attribute when no token came, invalid_token for every bad one.
    challenge = 'Bearer realm="books-api"' + ("" if code == "missing_token" else ', error="invalid_token"')
    return error_response(401, message, code=code, headers={"WWW-Authenticate": challenge})


# Every way a token can fail, as a JSON 401.
jwt.user_lookup_loader(lambda _header, payload: find_active(payload["sub"]))
jwt.user_lookup_error_loader(lambda *_: unauthorized("invalid_token", "the token's user is disabled or unknown"))
jwt.unauthorized_loader(lambda reason: unauthorized("missing_token", f"a Bearer token is required: {reason}"))
jwt.invalid_token_loader(lambda reason: unauthorized("invalid_token", f"invalid token: {reason}"))
jwt.expired_token_loader(lambda *_: unauthorized("token_expired", "the token has expired"))
for _loader in (jwt.revoked_token_loader, jwt.needs_fresh_token_loader, jwt.token_verification_failed_loader):
    _loader(lambda *_: unauthorized("invalid_token", "the token was rejected"))


def find_active(user_id) -> dict | None:
    """The active user a token's subject names, or None; with the data versions, read in the same round
    trip: the request's next step (api/operation.py)."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    return fetch_one("SELECT id, username, (SELECT coalesce(json_object_agg(scope, version), '{}')"
                     " FROM api.data_versions) AS data_versions FROM api_users WHERE id = %s AND active", (user_id,))


def authenticate(username: str, password: str) -> dict | None:
    user = fetch_one("SELECT id, username, password_hash FROM api_users WHERE username = %s AND active", (username,))
    # Hash even for unknown users so the answer's timing does not reveal which names exist.
    valid = check_password_hash(user["password_hash"] if user else _decoy_hash(), password)
    return {"id": user["id"], "username": user["username"]} if user and valid else None


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash("not a password")


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
