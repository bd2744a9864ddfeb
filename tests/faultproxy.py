"""A loopback HTTP proxy that misbehaves on purpose, for JSON-RPC nodes (anvil) and S3 servers (moto).

Every request (GET, PUT, POST, HEAD, DELETE) is forwarded to `upstream` with its headers and body,
and the answer comes back whole (no streaming), unless a rule says otherwise. A rule is a callable
that sees the `Request` and returns a fault or None. Every rule in `FaultProxy.rules` is asked, in
order: the delays add up, and the first fault of another kind decides what happens.

- `Respond(status, body, headers)`: answer so, without asking the upstream;
- `Reset(after, forward)`: reset the connection (TCP RST) after the status line, the headers and `after`
  bytes of the upstream's body (`after=None`: before any byte); `forward=False` resets at once and keeps
  the request from the upstream, as a connection lost on the way there;
- `Delay(seconds)`: wait, then go on;
- `Rewrite(body)`: forward, then answer `body(upstream_body)` instead (Content-Length follows).

JSON-RPC: `Request.calls` is the parsed call or batch (a list either way); `rewrite_answers` rewrites an
answer call by call (a batch's answers matched to their calls by id); `rewrite_results` builds a rule
that rewrites the results of one method. S3: give path-style URLs (`url(path="/bucket/key")`); the Host
header goes upstream unchanged, so signatures still hold.

Up to hundreds of connections at once (Cryo opens about 100), each on a daemon thread.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Headers that belong to one connection, not to the request or answer: never passed on.
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect")
)
UPSTREAM_TIMEOUT = 60.0


@dataclass(frozen=True)
class Request:
    """One request as the proxy received it."""

    method: str
    #: The path with its query, as sent.
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @cached_property
    def calls(self) -> list[dict[str, Any]]:
        """The JSON-RPC calls of the body, a single call as a list of one; [] when the body is not JSON-RPC."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return []
        calls = parsed if isinstance(parsed, list) else [parsed]
        return [call for call in calls if isinstance(call, dict) and "method" in call]

    @property
    def is_batch(self) -> bool:
        """Whether the body is a JSON array (a JSON-RPC batch)."""
        return self.body.lstrip()[:1] == b"["


@dataclass(frozen=True)
class Respond:
    """Answer with this status, body and headers; the upstream never sees the request."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reset:
    """Reset the connection after `after` bytes of the answer's body (None: before the status line)."""

    after: int | None = 0
    #: Whether the upstream gets the request first (it acted, only the answer is lost).
    forward: bool = True


@dataclass(frozen=True)
class Delay:
    """Wait this long before going on."""

    seconds: float


@dataclass(frozen=True)
class Rewrite:
    """Forward, then send `body(upstream_body)` as the answer's body."""

    body: Callable[[bytes], bytes]


Fault = Respond | Reset | Delay | Rewrite
Rule = Callable[[Request], Fault | None]


class FaultProxy:
    """A proxy on its own loopback port in front of `upstream` (`http://host:port[/path]`), faulty as its rules say.

    With `forward_path` False every request goes to `upstream`'s own path whatever path it came to (a
    JSON-RPC node answers only there); otherwise the request's path is appended to it.
    """

    def __init__(self, upstream: str, forward_path: bool = True) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream
        self._host, self._port = parts.hostname, parts.port or 80
        self._base = parts.path.rstrip("/") if forward_path else (parts.path or "/")
        self._forward_path = forward_path
        self.rules: list[Rule] = []
        #: Every request received, in order of arrival.
        self.requests: list[Request] = []
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self.port: int = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, userinfo: str = "", path: str = "/") -> str:
        """The proxy's URL, with `userinfo` (`user:password`) and `path` (with a query if wanted)."""
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}{path}"

    @contextmanager
    def fault(self, rule: Rule) -> Iterator[None]:
        """`rule` in force for the `with` block only."""
        self.rules.append(rule)
        try:
            yield
        finally:
            self.rules.remove(rule)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decide(self, request: Request) -> Fault | None:
        """What the rules make of `request`: waits for their delays, then the first other fault, or None."""
        decided: Fault | None = None
        for rule in list(self.rules):  # a test may change the rules while requests arrive
            fault = rule(request)
            if isinstance(fault, Delay):
                time.sleep(fault.seconds)
            elif fault is not None and decided is None:
                decided = fault
        return decided

    def forward(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """The upstream's status, headers and whole body for `request`."""
        path = self._base + request.path if self._forward_path else self._base
        connection = http.client.HTTPConnection(self._host, self._port, timeout=UPSTREAM_TIMEOUT)
        try:
            connection.putrequest(request.method, path, skip_host=True, skip_accept_encoding=True)
            for key, value in request.headers:
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    connection.putheader(key, value)
            if request.body or request.method in ("POST", "PUT"):
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Cryo opens up to 100 connections at once: a short backlog drops some and costs 1 s retransmits.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (a killed Cryo) is no news


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, and `Expect: 100-continue` answered here (boto3 sends it with every upload).
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            request = Request(self.command, self.path, tuple(self.headers.items()), self._body())
            proxy.requests.append(request)
            fault = proxy.decide(request)
            if isinstance(fault, Respond):
                self._answer(fault.status, list(fault.headers.items()), fault.body)
                return
            if isinstance(fault, Reset) and not fault.forward:
                self._reset(None, b"", fault.after)
                return
            try:
                status, headers, body = proxy.forward(request)
            except (OSError, http.client.HTTPException) as error:
                self._answer(502, [], f"the upstream did not answer: {error}".encode())
                return
            if isinstance(fault, Rewrite):
                body = fault.body(body)
            if isinstance(fault, Reset):
                self._reset((status, headers), body, fault.after)
            else:
                self._answer(status, headers, body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

        def _body(self) -> bytes:
            if (self.headers.get("Transfer-Encoding") or "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # the trailer, up to its empty line
                pass
            return b"".join(chunks)

        def _head(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response_only(status)
            sized = False
            for key, value in headers:
                if key.lower() == "content-length":
                    # A HEAD answer tells the size of the body it does not carry: keep the upstream's.
                    sized = self.command == "HEAD"
                    if not sized:
                        continue
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            if not sized:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self._head(status, headers, body)
            if self.command != "HEAD":
                self.wfile.write(body)

        def _reset(self, answer: tuple[int, list[tuple[str, str]]] | None, body: bytes, after: int | None) -> None:
            if answer is not None and after is not None:
                self._head(*answer, body)
                self.wfile.write(body[:after])
                self.wfile.flush()
            # SO_LINGER of zero: close sends a RST, not a FIN, so the client sees a reset connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    return Handler


# --- JSON-RPC ---


def rewrite_answers(request: Request, rewrite: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> Rewrite:
    """A `Rewrite` of the JSON-RPC answer to `request`: each answer object becomes `rewrite(call, answer)`.

    A batch's answers are matched to their calls by id; an answer that is not JSON-RPC is left as it is.
    """
    calls = {json.dumps(call.get("id")): call for call in request.calls}

    def body(upstream: bytes) -> bytes:
        try:
            parsed = json.loads(upstream)
        except ValueError:
            return upstream
        answers = parsed if isinstance(parsed, list) else [parsed]
        rewritten = [one(answer) for answer in answers]
        return json.dumps(rewritten if isinstance(parsed, list) else rewritten[0]).encode()

    def one(answer: Any) -> Any:
        call = calls.get(json.dumps(answer.get("id"))) if isinstance(answer, dict) else None
        return answer if call is None else rewrite(call, answer)

    return Rewrite(body)


def rewrite_results(
    method: str, rewrite: Callable[[list[Any], Any], Any], when: Callable[[Request], bool] = lambda _: True
) -> Rule:
    """A rule answering each call of `method` (a batch's too) with `rewrite(params, result)` in place of its result.

    `when` chooses the requests it applies to (say, by User-Agent); error answers are left as they are.
    """

    def replace(call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if call.get("method") != method or "result" not in answer:
            return answer
        return {**answer, "result": rewrite(call.get("params") or [], answer["result"])}

    def rule(request: Request) -> Fault | None:
        if not when(request) or all(call.get("method") != method for call in request.calls):
            return None
        return rewrite_answers(request, replace)

    return rule
