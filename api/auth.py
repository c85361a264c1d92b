"""``/api/v1/auth``: tokens for a username and password, and fresh access tokens. Every token failure is a JSON
401, and every request re-reads the token's user, so disabling one stops their tokens at once."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, get_jwt_identity
from marshmallow import Schema, fields, validate

from api import limits, users
from api.errors import ApiError, error_response
from api.operation import operation
from api.schemas.common import doc

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")
jwt = JWTManager()


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024))


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata=doc("Always Bearer."))
    expires_in = fields.Integer(required=True, metadata=doc("Lifetime of the access token, in seconds."))


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


def init_app(app) -> None:
    # Only our own algorithm: "alg: none" and RS/ES tokens fail verification.
    app.config.setdefault("JWT_ALGORITHM", "HS256")
    app.config["JWT_DECODE_ALGORITHMS"] = [app.config["JWT_ALGORITHM"]]
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers"])
    jwt.init_app(app)


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


def unauthorized(code: str, message: str):
    # RFC 6750: no error attribute when no token came, invalid_token for every bad one.
    challenge = 'Bearer realm="books-api"' + ("" if code == "missing_token" else ', error="invalid_token"')
    return error_response(401, message, code=code, headers={"WWW-Authenticate": challenge})


# Every way a token can fail, as a JSON 401.
jwt.user_lookup_loader(lambda _header, payload: users.find_active(payload["sub"]))
jwt.user_lookup_error_loader(lambda *_: unauthorized("invalid_token", "the token's user is disabled or unknown"))
jwt.unauthorized_loader(lambda reason: unauthorized("missing_token", f"a Bearer token is required: {reason}"))
jwt.invalid_token_loader(lambda reason: unauthorized("invalid_token", f"invalid token: {reason}"))
jwt.expired_token_loader(lambda *_: unauthorized("token_expired", "the token has expired"))
for _loader in (jwt.revoked_token_loader, jwt.needs_fresh_token_loader, jwt.token_verification_failed_loader):
    _loader(lambda *_: unauthorized("invalid_token", "the token was rejected"))
