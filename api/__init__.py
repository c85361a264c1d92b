"""Read-only JSON API over the crawled data: ``create_app()``.

    flask --app api run                  # development (add --debug)
    gunicorn "api:create_app()"          # production

It imports nothing from ``crawler/``: the two meet only in the schema
(``migrations/``). Configuration comes from the environment (api/settings.py,
docs/api.md).
"""

from __future__ import annotations

from flask import Flask

from api import (auth, books, brief, caching, categories, crawls, db, docs, errors, health, limits, metrics, ml, paging,
                 request_log, settings, stats, tokens, users, vitibrasil)

BLUEPRINTS = (auth.bp, health.bp, books.bp, categories.bp, stats.bp, crawls.bp, ml.bp, vitibrasil.bp, brief.bp,
              docs.bp, docs.assets)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    request_log.init_app(app)  # first: its before_request runs before any other
    app.config.from_mapping(settings.from_environment())
    app.config.update(config or {})
    settings.check_secret(app.config)
    app.json.sort_keys = False  # keep the schemas' field order
    db.init_app(app)
    errors.init_app(app)
    tokens.init_app(app)
    users.init_app(app)
    metrics.init_app(app)
    paging.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    limits.init_app(app)
    caching.init_app(app)  # last: a 304 or a replayed answer skips the before_request hooks after it
    return app
