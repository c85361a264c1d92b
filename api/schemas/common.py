"""Field types, helpers and schemas every resource shares; the resources' own are in api/schemas/books.py,
api/schemas/ml.py, api/schemas/crawls.py, or beside their views when no other module uses them."""

from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, missing


# PostgreSQL text holds neither NUL nor (being UTF-8) unpaired surrogates: every text parameter and body field is
# checked once, in api/operation.py, and documented with TEXT_PATTERN (no portable JSON Schema names surrogates).
TEXT_PATTERN = r"^[^\x00]*$"
UNSTORABLE = "Must not contain NUL characters or unpaired surrogates."
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
CENT = Decimal("0.01")
# A keyset cursor as this API writes it: base64url JSON without padding.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def storable(value) -> bool:
    """False when ``value`` (a string, or a list or object holding strings) has a character text cannot store."""
    if isinstance(value, str):
        return not _UNSTORABLE.search(value)
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(storable, value))
    return True


def doc(text: str) -> dict:
    return {"description": text}


def check_order(data: dict, low: str, high: str) -> None:
    """``high`` must not be below ``low`` when both are given (a range of two query parameters)."""
    if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
        raise ValidationError(f"Must not be less than {low}.", high)


class Decimal2(fields.Decimal):
    """A numeric(_, 2) as a JSON number, exactly as stored under 15 significant digits (51.77, never
    51.770000000000003: a float prints as the shortest string that reads back to it)."""

    def __init__(self, **kwargs):
        super().__init__(places=2, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else cents(value)


def cents(value) -> float:
    return float((value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT))


class CentBound(fields.Decimal):
    """A bound on an amount, validated as given (the document's minimum and maximum hold for what is sent), then
    rounded to cents by ``rounding`` (outward: the same rows match, and the SQL never sees a 20,000-digit number)."""

    def __init__(self, *, rounding: str, **kwargs):
        super().__init__(**kwargs)
        self.cent_rounding = rounding

    def deserialize(self, *args, **kwargs):
        amount = super().deserialize(*args, **kwargs)
        return amount.quantize(CENT, rounding=self.cent_rounding) if isinstance(amount, Decimal) else amount


class Figure(fields.Decimal):
    """A figure as a JSON number at the precision stored (169762429, 35881118.23); null when unknown."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else figure(value)


def figure(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


class NoQuery(Schema):
    """Endpoints without parameters still reject unknown ones."""


class ErrorSchema(Schema):
    status = fields.Integer(required=True, metadata=doc("The HTTP status."))
    error = fields.String(required=True, metadata=doc("Machine-readable code, e.g. bad_request, token_expired."))
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata=doc("Per-field messages, for invalid input."))


def page_schema(name: str, item_schema: type[Schema], noun: str) -> type[Schema]:
    """A keyset page of ``item_schema`` rows: items, next_cursor and the (capped) total."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next_cursor": fields.String(allow_none=True, metadata=doc("Pass as cursor for the next page; null on the last.")),
        "total": fields.Integer(required=True, metadata=doc(
            f"{noun} matching the filters, over all pages: exact, or an estimate for large listings"
            " (see total_is_estimate).")),
        "total_is_estimate": fields.Boolean(required=True, metadata=doc(
            "true when total is an estimate (counting would read too many rows), false when it is exact.")),
    }, name=name)


class NotPlain(Exception):
    """Data a compiled dump does not take (an object, not a dict): marshmallow's dump does."""


# What a field's value becomes in marshmallow's dump, per field type; values orjson writes as
# marshmallow's dump and jsonify would (str, bool, aware datetimes and dates) pass through.
_CONVERT = {fields.String: lambda v: v if type(v) is str else str(v), fields.Boolean: None, fields.DateTime: None,
            fields.Date: None, fields.Integer: int, fields.Float: float, Decimal2: cents, Figure: figure}


def plain_dump(schema: Schema):
    """``schema.dump`` compiled for dicts, its answer written by orjson: a function of the data, or
    None for a schema with a field of another kind (a format, a default) than those above."""
    plan = []
    for name, field in schema.dump_fields.items():
        convert = _converter(field)
        if convert is False or field.dump_default is not missing:
            return None
        plan.append((field.attribute or name, field.data_key or name, convert))

    def dump(obj):
        if not isinstance(obj, dict):
            raise NotPlain(type(obj).__name__)
        return {key: value if convert is None or value is None else convert(value)
                for attr, key, convert in plan if (value := obj.get(attr, missing)) is not missing}
    return dump


def _converter(field):
    if isinstance(field, fields.Nested):
        inner = plain_dump(field.schema)
        return False if inner is None else (lambda v: [inner(i) for i in v]) if field.many else inner
    if isinstance(field, fields.List):
        inner = _converter(field.inner)
        return False if inner is False else (lambda v: list(v)) if inner is None else (lambda v: [
            i if i is None else inner(i) for i in v])
    if isinstance(field, fields.Dict):
        keys, values = (_converter(f) if f else None for f in (field.key_field, field.value_field))
        if keys is False or values is False:
            return False
        return lambda v: {keys(k) if keys else k: x if values is None or x is None else values(x) for k, x in v.items()}
    if type(field) not in _CONVERT or getattr(field, "format", None) not in (None, "iso"):
        return False
    return _CONVERT[type(field)]
