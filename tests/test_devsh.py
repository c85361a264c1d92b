"""``./dev.sh run`` ends serving the API, also after a crawl that did not finish."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request

from tests.cluster import free_port
from tests.helpers import ROOT
from tests.sites.books import BooksSite, generate_books, serve


def request(url: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as response:
        return json.load(response)


def test_run_serves_what_is_stored_after_a_crawl_against_a_dead_site(db, db_url, crawl, tmp_path):
    with serve(BooksSite(generate_books(5, seed=21))) as base_url:
        assert crawl("books", args={"start_url": base_url + "index.html"}).returncode == 0
    dead, port, password = free_port(), free_port(), secrets.token_urlsafe(12)
    env = {**os.environ, "DATABASE_URL": db_url, "PORT": str(port), "JWT_SECRET_KEY": secrets.token_urlsafe(48),
           "API_USER": "newcomer", "API_PASSWORD": password}
    log = tmp_path / "dev.log"
    with open(log, "w") as out:
        child = subprocess.Popen(["./dev.sh", "run", "-a", f"start_url=http://127.0.0.1:{dead}/index.html",
                                  "-s", "RETRY_TIMES=0"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                token = request(f"{api}/auth/login", {"username": "newcomer", "password": password})["access_token"]
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        books = request(f"{api}/books", token=token)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert books["total"] == 5
    said = [line for line in log.read_text().splitlines() if line.startswith("dev.sh run: ")]
    assert len(said) == 1 and said[0].startswith("dev.sh run: the crawl did not finish (exit 1): crawl run "), said
    assert f" failed (the site declared nothing: http://127.0.0.1:{dead}/index.html: " in said[0]
    assert "Connection refused" in said[0] and said[0].endswith("; 5 books stored; serving the API over what is stored")
