"""docs/schema.md names the migration holding the live text of every view and function."""

from __future__ import annotations

import re

import migrations
from tests.helpers import ROOT, query

SCHEMA_DOC = ROOT / "docs" / "schema.md"
STATEMENT = re.compile(r"\b(?:CREATE\s+(?:OR\s+REPLACE\s+)?(MATERIALIZED\s+VIEW|VIEW|FUNCTION)\s+([\w.]+)"
                       r"|ALTER\s+(?:MATERIALIZED\s+VIEW|VIEW|FUNCTION)\s+([\w.]+)[^;]*?\bRENAME\s+TO\s+(\w+))", re.I)
DROPPED = re.compile(r"\bDROP\s+(?:MATERIALIZED\s+VIEW|VIEW|FUNCTION)\s+(?:IF\s+EXISTS\s+)?([\w.]+)", re.I)
LISTED = re.compile(r"^\| `([\w.]+)` \| ([a-z ]+) \| `(\d{4}_\w+\.sql)` \|$", re.M)
SCHEMAS = ("public", "api", "analytics", "ml", "vitibrasil", "staging")


def last_definitions() -> dict[str, tuple[str, str]]:
    """name -> (kind, file) of the last migration that creates or replaces it (a renamed one keeps its file,
    a dropped one is gone unless created again later in the same file)."""
    found = {}
    for path in migrations.migration_files():
        for name in DROPPED.findall(path.read_text()):
            found.pop(qualified(name), None)
        for kind, name, renamed, new_name in STATEMENT.findall(path.read_text()):
            if renamed:
                old = qualified(renamed)
                found[f"{old.split('.')[0]}.{new_name.lower()}"] = found.pop(old)
            else:
                found[qualified(name)] = (" ".join(kind.lower().split()), path.name)
    return found


def qualified(name: str) -> str:
    name = name.lower()
    return name if "." in name else f"public.{name}"


def test_the_listing_names_the_last_definition_of_each():
    listed = {name: (kind, file) for name, kind, file in LISTED.findall(SCHEMA_DOC.read_text())}
    expected = last_definitions()
    rows = "\n".join(f"| `{n}` | {k} | `{f}` |" for n, (k, f) in sorted(expected.items()))
    assert listed == expected, f"docs/schema.md's listing is stale; its rows should be:\n{rows}"


def test_the_listing_holds_every_view_and_function_of_the_database(db):
    in_database = {row[0] for row in query(db, """
        SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname = ANY (%(s)s)
        UNION SELECT schemaname || '.' || matviewname FROM pg_matviews WHERE schemaname = ANY (%(s)s)
        UNION SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = ANY (%(s)s) AND NOT EXISTS (  -- an extension's (pg_trgm) are not ours
                  SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""", {"s": list(SCHEMAS)})}
    assert in_database == set(last_definitions())
