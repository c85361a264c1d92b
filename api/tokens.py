"""JWT set-up: every token failure is a JSON 401, and every request re-reads its
user so disabling one stops their tokens at once (one indexed query)."""

from __future__ import annotations

from flask_jwt_extended import JWTManager

from api import users
from api.errors import error_response

jwt = JWTManager()


def init_app(app) -> None:
    # Only our own algorithm: "alg: none" and RS/ES tokens fail verification.
    app.config.setdefault("JWT_ALGORITHM", "HS256")
    app.config["JWT_DECODE_ALGORITHMS"] = [app.config["JWT_ALGORITHM"]]
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers"])
    jwt.init_app(app)


def unauthorized(code: str, message: str):
    # RFC 6750: no error attribute when no token came, invalid_token for every bad one.
    challenge = 'Bearer realm="books-api"' + ("" if code == "missing_token" else ', error="invalid_token"')
    return error_response(401, message, code=code, headers={"WWW-Authenticate": challenge})


@jwt.user_lookup_loader
def _load_user(_header: dict, payload: dict):
    return users.find_active(payload["sub"])


@jwt.user_lookup_error_loader
def _user_gone(_header, _payload):
    return unauthorized("invalid_token", "the token's user is disabled or unknown")


@jwt.unauthorized_loader
def _missing(reason: str):
    return unauthorized("missing_token", f"a Bearer token is required: {reason}")


@jwt.invalid_token_loader
def _invalid(reason: str):
    return unauthorized("invalid_token", f"invalid token: {reason}")


@jwt.expired_token_loader
def _expired(_header, _payload):
    return unauthorized("token_expired", "the token has expired")


@jwt.revoked_token_loader
@jwt.needs_fresh_token_loader
@jwt.token_verification_failed_loader
def _rejected(_header, _payload):
    return unauthorized("invalid_token", "the token was rejected")
