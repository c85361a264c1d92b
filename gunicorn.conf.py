"""gunicorn settings of the web process (gunicorn reads ./gunicorn.conf.py by itself).

Prometheus multiprocess mode for api/metrics.py: every worker writes its samples
to files under PROMETHEUS_MULTIPROC_DIR and a scrape, in whichever worker, adds
them up. The variable must be set before a worker imports prometheus-client,
hence here, in the master.
"""

import glob
import os
import tempfile

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
