"""``/dashboard/``: charts of the books, crawls, Vitibrasil figures, forecasts and models (docs/dashboard.md).

Static pages served by this web process: a login form gets a token from
``/api/v1/auth/login`` and every chart is drawn from API answers only, so the
dashboard has no database role of its own and goes through the API's limits,
ETags and caches. Charts are plotly.js, the copy bundled in the ``plotly``
Python package (its offline mode's file), served from here: no CDN, no request
to any other host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, send_file, send_from_directory

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

ASSETS = Path(__file__).with_name("dashboard_assets")
# Located without importing plotly: the web process needs the file, not the Python package.
PLOTLY_JS = Path(importlib.util.find_spec("plotly").submodule_search_locations[0]) / "package_data" / "plotly.min.js"
PLOTLY_MAX_AGE = 7 * 86400  # versioned by the package: a deploy that upgrades it changes its ETag too


@bp.get("/")
def page():
    return send_from_directory(ASSETS, "index.html", max_age=0)


@bp.get("/assets/<path:name>")
def asset(name: str):
    if name == "plotly.min.js":
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=PLOTLY_MAX_AGE)
    return send_from_directory(ASSETS, name, max_age=0)
