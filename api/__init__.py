"""Read-only JSON API over the crawled data: ``create_app()``.

    flask --app api run                  # development (add --debug)
    gunicorn "api:create_app()"          # production

It imports nothing from ``crawler/``: the two meet only in the schema
(``migrations/``). Configuration comes from the environment (api/settings.py,
docs/api.md).
"""

from __future__ import annotations

from flask import Flask

from api import (auth, books, brief, caching, categories, crawls, dashboard, db, docs, errors, health, limits, metrics,
                 ml, paging, request_log, settings, stats, tokens, users, vitibrasil)

BLUEPRINTS = (auth.bp, health.bp, books.bp, categories.bp, stats.bp, crawls.bp, ml.bp, vitibrasil.bp, brief.bp,
              docs.bp, docs.assets, metrics.bp, dashboard.bp)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(settings.from_environment())
    app.config.update(config or {})
    settings.check_secret(app.config)
    app.json.sort_keys = False  # keep the schemas' field order
    # No module here relies on another's hooks: a request's path is api/operation.py.
    for module in (request_log, db, errors, tokens, users, paging, caching, limits):
        module.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
