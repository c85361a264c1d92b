"""``/api/v1/auth``: tokens for a username and password, and fresh access tokens."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt_identity

from api import limits, users
from api.errors import ApiError
from api.operation import operation
from api.schemas.auth import AccessTokenSchema, LoginSchema, TokenPairSchema

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


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
        user = users.authenticate(body["username"], body["password"])
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
