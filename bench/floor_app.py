"""The framework floor for bench/http_bench.py: the least a Flask app can do per request.

Same token check as the API (flask-jwt-extended, HS256, the user re-read from
api_users), then one ``SELECT … LIMIT 20`` on ``api.books`` and ``jsonify``:

    gunicorn -w 2 "bench.floor_app:create_app()"   # DATABASE_URL, JWT_SECRET_KEY from the environment
"""

from __future__ import annotations

import os

from flask import Flask, g, jsonify
from flask_jwt_extended import JWTManager, jwt_required
from psycopg2.extras import RealDictCursor
from psycopg2.pool import SimpleConnectionPool


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(JWT_SECRET_KEY=os.environ["JWT_SECRET_KEY"], JWT_ALGORITHM="HS256")
    jwt = JWTManager(app)
    pool = {}

    def db():
        if "db" not in g:
            if "pool" not in pool:  # after the fork
                pool["pool"] = SimpleConnectionPool(1, 2, os.environ["DATABASE_URL"])
            g.db = pool["pool"].getconn()
            g.db.autocommit = True
        return g.db

    @app.teardown_appcontext
    def _return(_exc):
        if (conn := g.pop("db", None)) is not None:
            pool["pool"].putconn(conn)

    @jwt.user_lookup_loader
    def _user(_header, payload):
        with db().cursor() as cur:
            cur.execute("SELECT id, username FROM api_users WHERE id = %s AND active", (int(payload["sub"]),))
            return cur.fetchone()

    @app.get("/api/v1/books")
    @jwt_required()
    def books():
        with db().cursor(cursor_factory=RealDictCursor) as cur:
            cur.execute("SELECT * FROM api.books WHERE removed_at IS NULL ORDER BY id LIMIT 20")
            return jsonify(cur.fetchall())

    return app
