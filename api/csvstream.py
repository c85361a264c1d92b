"""CSV files streamed from a server-side cursor: memory stays flat whatever the size."""

from __future__ import annotations

import csv
import io

from flask import Response, stream_with_context

from api.db import get_db


def _cell(value):
    """Booleans as JSON writes them; amounts as stored ("0.00", not "0.0")."""
    return str(value).lower() if isinstance(value, bool) else value


def rows(statement: str, params=(), *, name: str = "csv_rows", chunk: int = 1000):
    """Tuples of ``statement`` in chunks, from a named (server-side) cursor of the request's connection."""
    with get_db().cursor(name=name) as cur:
        cur.execute(statement, params)
        while batch := cur.fetchmany(chunk):
            yield batch


def lines(header, chunks):
    """The header line, then one text block per chunk of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for batch in chunks:
        writer.writerows([_cell(value) for value in row] for row in batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone when there are no rows


def response(header, chunks, *, filename: str, headers: dict | None = None) -> Response:
    """A streamed text/csv attachment named ``filename``."""
    return Response(stream_with_context(lines(header, chunks)), mimetype="text/csv",
                    headers={**(headers or {}), "Content-Disposition": f'attachment; filename="{filename}"'})
