"""Login and token bodies."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import doc


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
