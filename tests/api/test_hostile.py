"""Hostile input gets a 400 in the one JSON error shape naming the field, never a 500:
NUL characters in every text parameter, unpaired surrogates, forged cursors."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.helpers import assert_error

NUL = "a\x00b"
TEXT_PARAMETERS = [
    ("/api/v1/books", {}, "q"),
    ("/api/v1/books", {}, "category"),
    ("/api/v1/crawls", {}, "spider"),
    ("/api/v1/vitibrasil/observations", {}, "dataset"),
    ("/api/v1/vitibrasil/observations", {"dataset": "production"}, "category"),
    ("/api/v1/vitibrasil/observations", {"dataset": "production"}, "item"),
    ("/api/v1/vitibrasil/observations", {"dataset": "production"}, "cursor"),
    ("/api/v1/books", {}, "cursor"),
    ("/api/v1/books", {}, "sort"),
]


@pytest.mark.parametrize("path, given, name", TEXT_PARAMETERS)
@pytest.mark.parametrize("value", [NUL, "\x00"])
def test_nul_in_every_text_parameter(client, auth, catalogue, path, given, name, value):
    response = client.get(path, query_string={**given, name: value}, headers=auth)
    assert_error(response, 400, name)
    raw = "&".join([*(f"{k}={v}" for k, v in given.items()), f"{name}=%00"])  # as curl sends ?q=%00
    body = assert_error(client.get(f"{path}?{raw}", headers=auth), 400, name)
    assert body["errors"][name] == ["Must not contain NUL characters or unpaired surrogates."] or name == "dataset"


@pytest.mark.parametrize("username", [NUL, "\ud800", "x\udfffy", "\x00"])
def test_unstorable_login_username(client, user, username):
    body = json.dumps({"username": username, "password": "whatever"})  # \\ud800 escapes: valid JSON text
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    body = assert_error(response, 400, "username")
    assert body["errors"]["username"] == ["Must not contain NUL characters or unpaired surrogates."]


def test_unstorable_password_and_unknown_keys(client, user):
    assert_error(client.post("/api/v1/auth/login", data='{"username": "reader", "password": "\\ud800"}',
                             content_type="application/json"), 400, "password")
    response = client.post("/api/v1/auth/login", data='{"username": "reader", "password": "x", "\\u0000": 1}',
                           content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/json"


def _cursor(key: list, fingerprint="0" * 16) -> str:
    raw = json.dumps({"k": key, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("key", [["1e999999", 5], ["-1e999999", 5], ["1e-999999", 5], ["12345678901.5", 5],
                                 ["0.001", 5], ["Infinity", 5], ["NaN", 5], [51.77, 5], ["51.77", 2**63],
                                 ["51.77", "5"], ["51.77\x00", 5], ["\ud800", 5]])
def test_forged_price_cursor(client, auth, catalogue, key):
    listing = client.get("/api/v1/books", query_string={"sort": "price", "limit": 1}, headers=auth).get_json()
    genuine = json.loads(base64.urlsafe_b64decode(listing["next_cursor"] + "=="))
    response = client.get("/api/v1/books", query_string={"sort": "price", "cursor": _cursor(key, genuine["f"])},
                          headers=auth)
    body = assert_error(response, 400, "cursor")
    assert body["errors"]["cursor"] == ["Not a valid cursor."]


@pytest.mark.parametrize("sort, key", [("title", ["a\x00", 5]), ("title", ["\udc00", 5]), ("id", [2**64]),
                                       ("rating", [3, -2**63 - 1]), ("id", "[1%s]" % ("0" * 5000))])
def test_forged_cursor_values(client, auth, catalogue, sort, key):
    listing = client.get("/api/v1/books", query_string={"sort": sort, "limit": 1}, headers=auth).get_json()
    genuine = json.loads(base64.urlsafe_b64decode(listing["next_cursor"] + "=="))
    key = key if isinstance(key, str) else json.dumps(key)  # a string: raw JSON, Python cannot print it
    raw = f'{{"k": {key}, "f": "{genuine["f"]}"}}'.encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get("/api/v1/books", query_string={"sort": sort, "cursor": cursor}, headers=auth)
    assert_error(response, 400, "cursor")


@pytest.mark.parametrize("cursor", ["abc=", "a b", "a+b/c", "é", "x" * 501])
def test_cursor_outside_its_pattern(client, auth, cursor):
    assert_error(client.get("/api/v1/books", query_string={"cursor": cursor}, headers=auth), 400, "cursor")


def test_unknown_dataset_is_named(client, auth):
    body = assert_error(client.get("/api/v1/vitibrasil/observations", query_string={"dataset": "nope"},
                                   headers=auth), 400, "dataset")
    assert "production" in body["errors"]["dataset"][0]


@pytest.mark.parametrize("params, name", [({"max_price": "10000000000.000002"}, "max_price"),
                                          ({"min_price": "-0.001"}, "min_price"),
                                          ({"min_price": "1e-999999", "max_price": "1e999999"}, "max_price")])
def test_price_bounds_are_checked_as_given(client, auth, params, name):
    """The document's minimum and maximum hold for the value sent, before it is rounded to cents."""
    assert_error(client.get("/api/v1/books", query_string=params, headers=auth), 400, name)


def test_price_bounds_round_outward(client, auth, catalogue):
    exact = client.get("/api/v1/books", query_string={"min_price": "20", "max_price": "30", "limit": 100},
                       headers=auth).get_json()
    fuzzy = client.get("/api/v1/books", query_string={"min_price": "19.991", "max_price": "30.009", "limit": 100},
                       headers=auth).get_json()
    assert fuzzy == exact and exact["total"] > 0
