"""Does a login flood starve the readers? Authenticated GET /books latency alone, then during
a flood of concurrent wrong-password logins, over real HTTP against gunicorn (gunicorn.conf.py).

    python bench/login_flood.py                       # limits as configured by default
    python bench/login_flood.py --unlimited           # the same flood with the login limits lifted
    python bench/login_flood.py --distributed         # every attempt from another address and username
    python bench/login_flood.py --flood-nice 10       # the flooder's own CPU deprioritised (another machine)
    python bench/login_flood.py --seconds 20 --flooders 16 --books 1000

A fresh database (generated books, one user) on the embedded server (or --server-url);
one reader sends GET /api/v1/books?limit=20 back to back on a kept-alive connection
(first alone, then during the flood); the flood is --flooders threads in another
process posting wrong passwords as fast as answers come. Prints p50/p99 of both
phases, their ratio, and what the flood got (401: a password was hashed; 429: refused
first; refused logins are held LOGIN_HOLD_SECONDS on up to LOGIN_HOLD_THREADS threads
per worker, so --flooders above 2 x 40 shows the flood that gets past the hold).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import migrations  # noqa: E402
from bench.api_bench import drop_database, fresh_database  # noqa: E402
from tests.cluster import free_port  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

PASSWORD = "bench password 1234"


def request(connection: http.client.HTTPConnection, method: str, path: str, body=None, headers=None):
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, response.read()


def wait_for(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if request(connection, "GET", "/api/v1/health")[0] == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)


def read_for(port: int, token: str, seconds: float) -> list[float]:
    """Latencies (ms) of back-to-back GET /books for ``seconds``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        status, _ = request(connection, "GET", "/api/v1/books?limit=20", headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, status
    return times


def flood(port: int, flooders: int, seconds: float, distributed: bool, niceness: int, results) -> None:
    """``flooders`` threads posting wrong passwords until ``seconds`` pass; status counts into ``results``."""
    os.nice(niceness)
    counts: Counter = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def one() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < end:
            # Distributed: as many clients behind one trusted proxy, each trying another name.
            address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
            username = f"user{secrets.randbelow(10**6)}" if distributed else "bench"
            try:
                status, _ = request(connection, "POST", "/api/v1/auth/login",
                                    {"username": username, "password": secrets.token_hex(8)},
                                    {"X-Forwarded-For": address} if distributed else None)
            except (OSError, http.client.HTTPException):
                status = "error"
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                counts[status] += 1

    threads = [threading.Thread(target=one) for _ in range(flooders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.update({str(k): v for k, v in counts.items()})


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15, help="length of each phase")
    parser.add_argument("--flooders", type=int, default=16, help="concurrent wrong-password clients")
    parser.add_argument("--unlimited", action="store_true", help="lift the login limits (the floor to compare)")
    parser.add_argument("--distributed", action="store_true",
                        help="each attempt from a new address (X-Forwarded-For, TRUSTED_PROXIES=1) and username")
    parser.add_argument("--flood-nice", type=int, default=0, help=(
        "niceness of the flooding process: 10 leaves its own CPU out of the figures, as if the attacker "
        "were another machine (on a real dyno it is); 0: it competes for the same 2 cores"))
    parser.add_argument("--server-url", help="server for the database (default: the embedded one)")
    args = parser.parse_args()

    server_url = args.server_url or migrations.embedded_url()
    url, name = fresh_database(server_url, args.books)
    conn = migrations.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO api_users (username, password_hash) VALUES ('bench', %s)",
                    (generate_password_hash(PASSWORD),))
    conn.close()
    port = free_port()
    env = {**os.environ, "API_DATABASE_URL": url, "JWT_SECRET_KEY": secrets.token_urlsafe(48), "PORT": str(port)}
    if args.distributed:
        env["TRUSTED_PROXIES"] = "1"
    if args.unlimited:
        env.update(LOGIN_RATE_LIMIT="1000000 per second", LOGIN_USER_RATE_LIMIT="1000000 per second")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "api:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, body = request(connection, "POST", "/api/v1/auth/login", {"username": "bench", "password": PASSWORD})
        assert status == 200, body
        token = json.loads(body)["access_token"]
        read_for(port, token, 2)  # warm up: pools, caches
        alone = read_for(port, token, args.seconds)
        manager = multiprocessing.Manager()
        results = manager.dict()
        flooder = multiprocessing.Process(target=flood, args=(port, args.flooders, args.seconds + 1, args.distributed,
                                                            args.flood_nice, results))
        flooder.start()
        time.sleep(0.5)  # the flood is on before the first timed read
        during = read_for(port, token, args.seconds)
        flooder.join()
        counts = dict(results)
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_database(server_url, name)

    limits = "lifted" if args.unlimited else (f"{os.environ.get('LOGIN_RATE_LIMIT', 'default')} per address, "
                                              f"{os.environ.get('LOGIN_USER_RATE_LIMIT', 'default')} per username")
    kind = ("distributed " if args.distributed else "") + (f"(nice {args.flood_nice}) " if args.flood_nice else "")
    print(f"\nGET /api/v1/books?limit=20, {args.books} books; {kind}flood: {args.flooders} clients, "
          f"login limits {limits}")
    print(f"{'phase':<14} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for label, times in (("alone", alone), ("during flood", during)):
        print(f"{label:<14} {len(times):>9} {len(times) / args.seconds:>7.1f} {statistics.median(times):>8.1f} "
              f"{percentile(times, 0.99):>8.1f}")
    print(f"p99 ratio (flood / alone): {percentile(during, 0.99) / percentile(alone, 0.99):.2f}")
    print(f"flood answers: {dict(sorted(counts.items()))}, {sum(counts.values()) / (args.seconds + 1):.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
