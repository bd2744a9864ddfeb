"""A loopback HTTP proxy that delays every request by a fixed time, as a remote RPC endpoint would.

Each client connection has its own thread, so concurrent requests are each delayed, never queued
behind one another; the upstream connection is one per thread and kept alive. It runs as its own
process (`python -m benchmarks.latency_proxy UPSTREAM DELAY_MS`), so its CPU does not share a GIL
with whatever is measured, prints its URL on its first line, and on SIGTERM writes the JSON-RPC
methods it forwarded, with counts, to stderr (as JSON): what a client really asked for.
"""

from __future__ import annotations

import collections
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Proxied:
    """A running proxy: its URL, and after it stops, the methods it forwarded."""

    url: str
    methods: collections.Counter[str] = field(default_factory=collections.Counter)


@contextmanager
def proxied(upstream: str, delay_ms: float) -> Iterator[Proxied]:
    """The proxy in front of `upstream` for the block; its method counts are filled in when it ends."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.latency_proxy", upstream, str(delay_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    proxy = Proxied(child.stdout.readline().strip())
    try:
        if not proxy.url:
            raise RuntimeError(f"the latency proxy did not start: {child.communicate()[1][-500:]}")
        yield proxy
    finally:
        child.terminate()
        _, err = child.communicate(timeout=30)
        if proxy.url:
            proxy.methods.update(json.loads(err.splitlines()[-1]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # Cryo opens up to max_concurrent_requests connections at once


def serve(upstream: str, delay: float) -> None:
    """Forward to `upstream` until SIGTERM, each request `delay` seconds late."""
    target = urllib.parse.urlsplit(upstream)
    methods: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as RPC clients use it

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            _count(body)
            time.sleep(delay)
            status, answer = _forward(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            """Quiet: one line a request otherwise."""

    def _forward(body: bytes) -> tuple[int, bytes]:
        if not hasattr(local, "upstream"):
            local.upstream = http.client.HTTPConnection(target.netloc, timeout=120)
        local.upstream.request("POST", target.path or "/", body, {"Content-Type": "application/json"})
        response = local.upstream.getresponse()
        return response.status, response.read()

    def _count(body: bytes) -> None:
        calls = json.loads(body)
        names = [c["method"] for c in calls] if isinstance(calls, list) else [calls["method"]]
        with lock:
            methods.update(names)

    server = _Server(("127.0.0.1", 0), Handler)

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    with lock:
        print(json.dumps(dict(methods)), file=sys.stderr, flush=True)


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]) / 1000)
