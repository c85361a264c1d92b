"""Opaque keyset cursors: the last row's sort key, base64url JSON, bound to the
sort and filters that produced it so it cannot silently page another listing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from decimal import Decimal, InvalidOperation

from api.errors import ApiError
from api.schemas.common import CENT, storable

# A cursor is not signed: its values are checked as hostile input, to what the columns can hold.
_BIGINT = 2**63
_MAX_AMOUNT = Decimal(10) ** 10  # books.price is numeric(12,2)


def _integer(value) -> int:
    if type(value) is not int or not -_BIGINT <= value < _BIGINT:
        raise ValueError(value)
    return value


def _text(value) -> str:
    if type(value) is not str or not storable(value):
        raise ValueError(value)
    return value


def _amount(value) -> Decimal:
    amount = Decimal(_text(value))
    if not amount.is_finite() or abs(amount) >= _MAX_AMOUNT or amount != amount.quantize(CENT):
        raise ValueError(value)
    return amount


KEY_TYPES = {"id": _integer, "title": _text, "price": _amount, "rating": _integer, "availability": _integer,
             "year": _integer}


def fingerprint(listing: dict) -> str:
    return hashlib.sha256(json.dumps(listing, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode(key: list, listing: dict) -> str:
    payload = {"k": [str(v) if isinstance(v, Decimal) else v for v in key], "f": fingerprint(listing)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, columns: tuple[str, ...], listing: dict) -> list:
    """The key values of ``columns`` in ``token``; 400 when it is not a cursor of this listing."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        fingerprint_ok = payload["f"] == fingerprint(listing)
        key = payload["k"]
        if len(key) != len(columns):
            raise ValueError(key)
        values = [KEY_TYPES[column](value) for column, value in zip(columns, key)]
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid query parameter(s): cursor", {"cursor": ["Not a valid cursor."]}) from None
    if not fingerprint_ok:
        raise ApiError(400, "invalid query parameter(s): cursor",
                       {"cursor": ["This cursor belongs to a listing with other filters or another sort."]})
    return values
