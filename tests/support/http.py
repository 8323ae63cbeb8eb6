"""A real local HTTP server with scripted answers, recording when each request arrived."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    """Per path, the answers to give in order (the last one repeats): (status, headers)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def answer(self, path: str, *answers: tuple[int, dict[str, str]]) -> None:
        with self.lock:
            self.answers[path] = list(answers)
            self.arrivals[path] = []

    def next(self, path: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.arrivals[path].append(time.monotonic())
            queue = self.answers.get(path) or [(404, {})]
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def gaps_s(self, path: str) -> list[float]:
        times = self.arrivals[path]
        return [later - earlier for earlier, later in itertools.pairwise(times)]


@contextmanager
def scripted_server() -> Iterator[tuple[str, Script]]:
    """Serve on 127.0.0.1 on a free port; yield its base URL and its script."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers = script.next(self.path)
            body = b'{"ok": true}' if status == 200 else b'{"error": "scripted"}'
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", script
    finally:
        server.shutdown()
        server.server_close()
