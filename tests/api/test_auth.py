"""Login, refresh, and every way a token can be wrong: always a JSON 401."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest

from api.db import close_pool
from tests.api.helpers import PROTECTED, PUBLIC, SECRET, assert_error, make_app

LOGIN, REFRESH, BOOKS = "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/books"


def login(client, username="reader", password="correct horse battery"):
    return client.post(LOGIN, json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_login_refresh_and_use(client, user, app):
    response = login(client)
    assert response.status_code == 200
    tokens = response.get_json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds() == 900
    assert client.get(BOOKS, headers=bearer(tokens["access_token"])).status_code == 200

    refreshed = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    body = refreshed.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert client.get(BOOKS, headers=bearer(body["access_token"])).status_code == 200
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(user["id"]) and claims["type"] == "access"


@pytest.mark.parametrize("username, password", [("reader", "wrong password"), ("nobody", "correct horse battery"),
                                                ("READER", "correct horse battery")])
def test_wrong_credentials(client, user, username, password):
    body = assert_error(login(client, username, password), 401)
    assert body["error"] == "invalid_credentials"


@pytest.mark.parametrize("payload, fields", [
    ({}, ("username", "password")), ({"username": "reader"}, ("password",)),
    ({"username": 5, "password": "x"}, ("username",)), ({"username": "", "password": "x"}, ("username",)),
    ({"username": "reader", "password": "x", "otp": "1"}, ("otp",)),
])
def test_login_body_validation(client, user, payload, fields):
    assert_error(client.post(LOGIN, json=payload), 400, *fields)


@pytest.mark.parametrize("data, content_type", [("not json", "application/json"), ("[1, 2]", "application/json"),
                                                ("username=reader", "application/x-www-form-urlencoded"), ("", None)])
def test_login_needs_a_json_object(client, user, data, content_type):
    assert_error(client.post(LOGIN, data=data, content_type=content_type), 400)


def test_login_rejects_query_parameters_and_get(client, user):
    assert_error(client.post(LOGIN + "?debug=1", json={"username": "reader", "password": "x"}), 400, "debug")
    assert_error(client.get(LOGIN), 405)


def test_disabled_user_is_cut_off_at_once(client, app, user, db_url):
    tokens = login(client).get_json()
    assert client.get(BOOKS, headers=bearer(tokens["access_token"])).status_code == 200
    result = app.test_cli_runner().invoke(args=["disable-user", "reader"])
    assert result.exit_code == 0, result.output
    body = assert_error(client.get(BOOKS, headers=bearer(tokens["access_token"])), 401)
    assert body["error"] == "invalid_token"
    assert_error(client.post(REFRESH, headers=bearer(tokens["refresh_token"])), 401)
    assert_error(login(client), 401)


def test_expired_tokens(db_url, user):
    app = make_app(db_url, JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=1), JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=1))
    client = app.test_client()
    tokens = login(client).get_json()
    assert tokens["expires_in"] == 1
    assert client.get(BOOKS, headers=bearer(tokens["access_token"])).status_code == 200
    time.sleep(2)
    body = assert_error(client.get(BOOKS, headers=bearer(tokens["access_token"])), 401)
    assert body["error"] == "token_expired"
    assert_error(client.post(REFRESH, headers=bearer(tokens["refresh_token"])), 401)
    close_pool(app)


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forgeries(user_id: int, genuine: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": str(user_id), "type": "access", "fresh": False, "iat": now, "nbf": now, "exp": now + 600,
              "jti": "x"}
    header, payload, signature = genuine.split(".")
    tampered = dict(json.loads(base64.urlsafe_b64decode(payload + "==")), sub="999")
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg none with signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.{signature}",
        "another key": jwt.encode(claims, "another secret of at least thirty-two bytes!", algorithm="HS256"),
        "another algorithm, our secret": jwt.encode(claims, SECRET, algorithm="HS512"),
        "tampered payload": f"{header}.{_b64(tampered)}.{signature}",
        "no signature": f"{header}.{payload}.",
        "not a jwt": "abc",
        "two parts": f"{header}.{payload}",
        "garbage base64": "a.b.c",
        "non-ascii": "é.é.é",
        "no subject": jwt.encode({k: v for k, v in claims.items() if k != "sub"}, SECRET, algorithm="HS256"),
        "subject not an id": jwt.encode({**claims, "sub": "reader"}, SECRET, algorithm="HS256"),
        "subject unknown": jwt.encode({**claims, "sub": "424242"}, SECRET, algorithm="HS256"),
        "not yet valid": jwt.encode({**claims, "nbf": now + 3600}, SECRET, algorithm="HS256"),
        "expired long ago": jwt.encode({**claims, "exp": now - 3600}, SECRET, algorithm="HS256"),
    }


def test_forged_and_malformed_tokens_get_json_401(client, user, auth):
    genuine = auth["Authorization"].split()[1]
    assert client.get(BOOKS, headers=auth).status_code == 200
    for name, token in _forgeries(user["id"], genuine).items():
        response = client.get(BOOKS, headers=bearer(token))
        assert response.status_code == 401, (name, response.get_data(as_text=True))
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="books-api", error="invalid_token"'


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer "}, {"Authorization": "Basic cmVhZGVyOnB3"},
                                     {"Authorization": "Token abc"}, {"Authorization": "Bearer a b"}])
def test_missing_or_malformed_header(client, user, headers):
    body = assert_error(client.get(BOOKS, headers=headers), 401)
    assert body["error"] in ("missing_token", "invalid_token")


def test_no_token_challenge_has_no_error(client):
    assert client.get(BOOKS).headers["WWW-Authenticate"] == 'Bearer realm="books-api"'


def test_token_kinds_are_not_interchangeable(client, user):
    tokens = login(client).get_json()
    assert_error(client.get(BOOKS, headers=bearer(tokens["refresh_token"])), 401)
    assert_error(client.post(REFRESH, headers=bearer(tokens["access_token"])), 401)
    assert_error(client.post(REFRESH), 401)


def test_token_from_another_deployment_is_refused(db_url, user):
    other = make_app(db_url, JWT_SECRET_KEY="a different deployment secret, long enough")
    tokens = login(other.test_client()).get_json()
    close_pool(other)
    ours = make_app(db_url)
    assert_error(ours.test_client().get(BOOKS, headers=bearer(tokens["access_token"])), 401)
    close_pool(ours)


@pytest.mark.parametrize("path", PROTECTED)
def test_every_data_endpoint_needs_a_token(client, user, path):
    assert_error(client.get(path), 401)
    assert_error(client.get(path + "?unknown=1"), 401)  # authentication comes before parameter checks


@pytest.mark.parametrize("path", PUBLIC)
def test_public_endpoints(client, path):
    assert client.get(path).status_code == 200
