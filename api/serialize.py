"""Rows dumped as their marshmallow schema dumps them, without its per-field machinery.

marshmallow stays the contract (OpenAPI, input validation, the conversions
themselves: each value still goes through its field's ``_serialize``); what is
skipped is the generic walk (accessors, hooks, error stores) that made dumping a
page of books cost more than reading it. ``CompiledDump`` schemas fall back to
marshmallow's own ``dump`` for anything but a plain single-object dump;
tests/api/test_serialize.py checks both agree.
"""

from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow.decorators import POST_DUMP, PRE_DUMP

_MISSING = object()


def compile_dump(schema: Schema):
    """A function dumping one object (a dict or an object with attributes) as ``schema.dump`` would."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP] or schema.many or schema.only or schema.exclude:
        return lambda obj: Schema.dump(schema, obj)  # marshmallow's own walk
    steps = []
    for name, field in schema.dump_fields.items():
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) and not field.inner.many:
            inner = compile_dump(field.inner.schema)
            convert = _each(inner)
        elif isinstance(field, fields.Nested) and not field.many:
            convert = _nested(compile_dump(field.schema))
        else:
            convert = _through(field, name)
        steps.append((field.data_key or name, field.attribute or name, convert))

    def dump(obj) -> dict:
        get = obj.get if isinstance(obj, dict) else lambda attr, default: getattr(obj, attr, default)
        out = {}
        for key, attr, convert in steps:
            value = get(attr, _MISSING)
            if value is not _MISSING:  # as marshmallow: an absent attribute is left out
                out[key] = convert(value, obj)
        return out

    return dump


def _each(inner):
    return lambda value, obj: None if value is None else [inner(item) for item in value]


def _nested(inner):
    return lambda value, obj: None if value is None else inner(value)


def _through(field, name):
    return lambda value, obj: field._serialize(value, name, obj)


class CompiledDump(Schema):
    """A schema whose plain ``dump(obj)`` runs the compiled function."""

    def dump(self, obj, *, many: bool | None = None):
        if many or self.many or self.only or self.exclude:
            return super().dump(obj, many=many)
        if "_compiled" not in self.__dict__:
            self._compiled = compile_dump(self)
        return self._compiled(obj)
