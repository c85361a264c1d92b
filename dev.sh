#!/usr/bin/env bash
# One entry point for a fresh machine (needs only Python 3.11+):
#   ./dev.sh run   crawl books.toscrape.com into the embedded PostgreSQL, then serve the API and the dashboard (also after
#                  a crawl that did not finish: over what the database holds)
#   ./dev.sh fixtures  download the real pages and CSV files the tests read into .fixtures/ (checked)
#   ./dev.sh test  run the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"

installed() { cat requirements*.txt | cmp -s - "$1"; }

# venv FILE: the project venv with FILE's requirements (requirements.txt: what the dynos run;
# requirements-dev.txt: that plus the test and benchmark tools).
venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # Reinstall only when the requirement files changed since the last install of FILE (or of
  # requirements-dev.txt, which includes requirements.txt).
  local stamp=".venv/.${1}"
  if ! installed "$stamp" && ! { [ "$1" = requirements.txt ] && installed .venv/.requirements-dev.txt; }; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$1"
    cat requirements*.txt > "$stamp"
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
}

case "${1:-}" in
  run)
    venv requirements.txt
    python -m migrations
    # A crawl that does not finish (site unreachable, partial, redesigned) still ends serving what
    # the database holds; the crawl's exit code is the same as when it is run alone.
    code=0
    scrapy crawl books "${@:2}" || code=$?
    if [ "$code" -ne 0 ]; then
      echo "dev.sh run: the crawl did not finish (exit $code): $(python -m crawler.status); serving the API over what is stored" >&2
    fi
    mkdir -p .data
    # A development secret kept under .data/ so tokens survive restarts; production sets its own.
    [ -s .data/jwt_secret ] || python -c "import secrets; print(secrets.token_urlsafe(48))" > .data/jwt_secret
    export JWT_SECRET_KEY="${JWT_SECRET_KEY:-$(cat .data/jwt_secret)}"
    if [ -n "${API_USER:-}" ]; then
      printf '%s\n' "${API_PASSWORD:?set API_PASSWORD with API_USER}" | flask --app api create-user "$API_USER" || true
    fi
    echo "API docs: http://127.0.0.1:${PORT:-5000}/api/v1/docs  dashboard: http://127.0.0.1:${PORT:-5000}/dashboard/"
    exec flask --app api run --port "${PORT:-5000}"
    ;;
  fixtures)
    venv requirements-dev.txt
    exec python -m tests.fixtures fetch "${@:2}"
    ;;
  test)
    venv requirements-dev.txt
    exec python -m pytest "${@:2}"
    ;;
  *)
    echo "usage: ./dev.sh run [scrapy crawl options] | ./dev.sh fixtures [--dest DIR] | ./dev.sh test [pytest options]" >&2
    exit 64
    ;;
esac
