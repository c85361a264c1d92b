"""Time wine_price predictions through the real app, against a floor in the same run.

    python bench/ml_bench.py [--repeat 30] [--quick]

A fresh database gets the fixtures' 2025 Vitibrasil edition (../shared/fixtures, every dataset,
stored the way the pipelines store it) and a trained wine_price (`--quick`: the tests' small
backtest; without it, the full protocol of `python -m ml train`, whose time is reported).
Requests go through the app with the Flask test client (app + SQL, no HTTP server); each case
is timed ``--repeat`` times after one warm-up request (which loads the model):

- floor: one observed year (the same request path: token, body, one lookup; no model);
- 1 forecast, 1000 forecasts (every series, horizons 1 to 3), 1000 scenarios (with drivers).

Then one gunicorn worker serves the API and its memory (VmRSS) is read before and after the
first prediction. Goals (issue 18): 1 instance <= 20 ms median, 1000 instances <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from bench.api_bench import drop_database, new_database  # noqa: E402
from bench.http_bench import Server, token_for  # noqa: E402
from crawler.vitibrasil.csv_parser import parse_csv  # noqa: E402
from crawler.vitibrasil.datasets import DATASETS  # noqa: E402
from ml import registry  # noqa: E402
from ml.__main__ import train_model  # noqa: E402
from tests.crawler.vitibrasil.fixtures import FIXTURES  # noqa: E402
from tests.crawler.vitibrasil.storage import load  # noqa: E402
from tests.ml.helpers import SMALL  # noqa: E402

PREDICT = "/api/v1/ml/predictions"


def fresh_database(server_url: str) -> tuple[str, str]:
    url, name = new_database(server_url, "bench_ml")
    conn = migrations.connect(url)
    load(conn, [o for dataset, d in DATASETS.items()
                for o in parse_csv(dataset, (FIXTURES / "csv" / d.csv_name).read_bytes())])
    conn.close()
    return url, name


def instances(url: str) -> tuple[dict, list[dict], list[dict]]:
    """An observed instance, 1000 forecasts over the series priced in the last year, and the same as scenarios."""
    conn = migrations.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT max(year) FROM ml.wine_trade")
        last = cur.fetchone()[0]
        cur.execute("SELECT dataset, country, quantity FROM ml.wine_trade WHERE year = %s AND price IS NOT NULL"
                    " ORDER BY dataset, country", (last,))
        series = cur.fetchall()
    conn.close()
    forecasts = [{"dataset": d, "country": c, "year": last + 1 + n % 3}
                 for n, (d, c, _) in zip(range(1000), series * (1000 // len(series) + 1))]
    scenarios = [{**f, "quantity_kg": float(q) * 1.1, "production": 4e8}
                 for f, (_, _, q) in zip(forecasts, series * (1000 // len(series) + 1))]
    observed = {"dataset": series[0][0], "country": series[0][1], "year": last}
    return observed, forecasts, scenarios


def timed(client, headers, body: dict, repeat: int) -> list[float]:
    response = client.post(PREDICT, json=body, headers=headers)  # warm-up: the model loads once per process
    assert response.status_code == 200, response.get_json()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.post(PREDICT, json=body, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.get_json()
    return times


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def worker_memory(url: str, secret: str, token: str, body: dict) -> tuple[float, float]:
    """RSS of one gunicorn worker after a /ml/models request, then after its first prediction."""
    import subprocess

    with Server("api:create_app()", {"DATABASE_URL": url, "JWT_SECRET_KEY": secret}) as server:
        children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
        workers = [int(p) for p in children.stdout.split()]

        def call(path, data=None):
            request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data,
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()

        for _ in range(4):  # every worker answers something light first
            call("/api/v1/ml/models")
        before = max(rss_mib(p) for p in workers)
        for _ in range(4):
            call(PREDICT, json.dumps(body).encode())
        return before, max(rss_mib(p) for p in workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="train with the tests' small backtest")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    server_url = os.environ.get("DATABASE_URL") or migrations.embedded_url()
    url, name = fresh_database(server_url)
    try:
        conn = migrations.connect(url)
        start = time.perf_counter()
        trained = train_model(conn, "wine_price", SMALL if args.quick else None)
        training = time.perf_counter() - start
        registry.register(conn, trained)
        conn.close()
        print(f"wine_price trained in {training:.1f} s ({'small' if args.quick else 'full'} backtest),"
              f" artifact {len(trained.artifact) / 2**20:.1f} MiB")

        from api import create_app
        secret = uuid.uuid4().hex * 2
        token = token_for(url, secret)
        app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": secret})
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        observed, forecasts, scenarios = instances(url)
        cases = [("floor: 1 observed year (no model)", [observed]), ("1 forecast", forecasts[:1]),
                 ("1 scenario", scenarios[:1]), ("1000 forecasts (h = 1..3)", forecasts),
                 ("1000 scenarios", scenarios)]
        results = {label: timed(client, headers, {"model": "wine_price", "instances": body}, args.repeat)
                   for label, body in cases}
        floor = statistics.median(results[cases[0][0]])
        print(f"\n{args.repeat} requests per line (ms)")
        print(f"{'case':<36} {'median':>9} {'p95':>9} {'x floor':>8}")
        for label, times in results.items():
            ordered = sorted(times)
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            print(f"{label:<36} {statistics.median(times):>9.2f} {p95:>9.2f} {statistics.median(times) / floor:>8.1f}")
        before, after = worker_memory(url, secret, token, {"model": "wine_price", "instances": forecasts[:10]})
        print(f"\ngunicorn worker RSS: {before:.0f} MiB before the first prediction, {after:.0f} MiB after")
    finally:
        drop_database(server_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
