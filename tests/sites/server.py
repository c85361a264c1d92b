"""The HTTP side of the fake sites: a site answers (status, content type, body) for a request target."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Protocol


class Site(Protocol):
    def respond(self, target: str) -> tuple[int, str, bytes]:
        """(status, Content-Type, body) for a request path with its query, e.g. "/index.php?opcao=opt_02"."""


def make_server(site: Site, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real sites: cheaper crawls and benchmarks

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            status, content_type, content = site.respond(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                self.wfile.write(content)

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


@contextmanager
def serve(site: Site, port: int = 0) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 in a daemon thread; yields "http://127.0.0.1:PORT/"."""
    server = make_server(site, port)
    # A short poll interval keeps shutdown (one per test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=type(site).__name__, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
