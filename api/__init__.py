"""Read-only JSON API over the crawled data (docs/api.md): ``flask --app api run`` in development,
``gunicorn "api:create_app()"`` in production. It imports nothing from ``crawler/``: the two meet only in the
schema (``migrations/``)."""

from __future__ import annotations

from flask import Flask

from api import (auth, books, brief, caching, crawls, db, docs, errors, limits, metrics, ml, paging, settings, stats,
                 users, vitibrasil)

BLUEPRINTS = (auth.bp, crawls.health_bp, books.bp, stats.categories, stats.bp, crawls.bp, ml.bp, vitibrasil.bp,
              brief.bp, docs.bp, docs.assets, metrics.bp, docs.dashboard)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(settings.from_environment())
    app.config.update(config or {})
    settings.check_secret(app.config)
    app.json.sort_keys = False  # keep the schemas' field order
    # No module here relies on another's hooks: a request's path is api/operation.py.
    for module in (metrics, db, errors, auth, users, paging, caching, limits):
        module.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
