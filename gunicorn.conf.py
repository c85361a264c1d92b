"""gunicorn settings of the web process (Procfile: ``gunicorn --config gunicorn.conf.py "api:create_app()"``).

Threaded workers (gthread): a login's scrypt hash (~170 ms, run outside the GIL)
or a slow query holds one thread, not the whole worker, so reads keep flowing
next to it; the login rate limits (api/limits.py) keep floods from hashing at all.
WEB_CONCURRENCY processes x GUNICORN_THREADS threads (48). Up to
LOGIN_HOLD_THREADS (40) of them may sleep on refused logins (api/limits.py);
requests use at most API_DB_POOL_MAX (4) connections per process at once, the
others wait for one (api/db.py). A sleeping thread costs memory, not CPU.

Requests gunicorn refuses before the app sees them get gunicorn's own plain HTML
answer, not the API's JSON (docs/api.md, "Errors gunicorn answers itself"):
a request line over 8190 bytes (414), over 100 header fields or one over 8190
bytes (431), malformed HTTP (400).

Prometheus multiprocess mode for api/metrics.py: every worker writes its samples
to files under PROMETHEUS_MULTIPROC_DIR and a scrape, in whichever worker, adds
them up. The variable must be set before a worker imports prometheus-client,
hence here, in the master.
"""

import glob
import os
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "48"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # Heroku's router gives up at 30 s
graceful_timeout = 25  # Heroku sends SIGKILL 30 s after SIGTERM
keepalive = 5

# gunicorn's maxima: every request the Heroku router passes on (8 KB request line) reaches the app,
# whose parameters are all far shorter and are refused there, in JSON.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="books-api-metrics-")


def on_starting(server):
    """A given directory may hold a previous server's files: they would be added in."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    """Drop a dead worker's live gauges (pool connections); its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
