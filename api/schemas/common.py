"""Field types, helpers and schemas every resource shares."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields


def doc(text: str) -> dict:
    return {"description": text}


def check_order(data: dict, low: str, high: str) -> None:
    """``high`` must not be below ``low`` when both are given (a range of two query parameters)."""
    if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
        raise ValidationError(f"Must not be less than {low}.", high)


class Decimal2(fields.Decimal):
    """A numeric(_, 2) as a JSON number. A float prints as the shortest string
    that reads back to it, so any amount under 15 significant digits comes out
    exactly as stored: 51.77, never 51.770000000000003."""

    def __init__(self, **kwargs):
        super().__init__(places=2, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        amount = super()._serialize(value, attr, obj, **kwargs)
        return None if amount is None else float(amount)


class Figure(fields.Decimal):
    """A figure as a JSON number at the precision stored (169762429, 35881118.23); null when unknown."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)


class NoQuery(Schema):
    """Endpoints without parameters still reject unknown ones."""


class ErrorSchema(Schema):
    status = fields.Integer(required=True, metadata=doc("The HTTP status."))
    error = fields.String(required=True, metadata=doc("Machine-readable code, e.g. bad_request, token_expired."))
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata=doc("Per-field messages, for invalid input."))
