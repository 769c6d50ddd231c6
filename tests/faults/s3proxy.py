"""A fault-injecting HTTP proxy in front of the moto S3 server, on 127.0.0.1 (fixture `s3_faults`).

Ray workers reach it like any S3 endpoint. A `Rule` matches requests by method and a substring of the
path and answers instead of S3, a number of times or forever: 403 AccessDenied, 503 SlowDown (throttling),
500 InternalError, or "drop" (the connection is closed without an answer: a network error). Every request
is logged with its outcome, so tests can see retries happening and their backoff.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

ERRORS = {
    "403": (403, "AccessDenied", "Access Denied"),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass
class Rule:
    methods: frozenset[str]
    path_contains: str  # matched against the URL-decoded path and query
    action: str  # "403" | "503" | "500" | "drop"
    times: int | None = None  # None: forever
    hits: int = 0

    def matches(self, method: str, target: str) -> bool:
        live = self.times is None or self.hits < self.times
        return live and method in self.methods and self.path_contains in target


@dataclass
class FaultProxy:
    upstream: str  # moto's http://host:port
    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[float, str, str, str]] = field(default_factory=list)  # (time, method, target, outcome)
    key_ids: set[str] = field(default_factory=set)  # access key ids seen in signatures (never secrets)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, methods: str, path_contains: str, action: str, times: int | None = None) -> Rule:
        rule = Rule(frozenset(methods.split()), path_contains, action, times)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def decide(self, method: str, target: str) -> str | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, target):
                    rule.hits += 1
                    return rule.action
        return None

    def record(self, method: str, target: str, outcome: str) -> None:
        with self.lock:
            self.log.append((time.monotonic(), method, target, outcome))

    def attempts(self, path_contains: str, method: str | None = None) -> list[tuple[float, str]]:
        """(time, outcome) of the logged requests whose target contains `path_contains`."""
        with self.lock:
            return [
                (t, o) for t, m, p, o in self.log if path_contains in p and (method is None or m == method)
            ]


def _handler(proxy: FaultProxy):
    upstream = urlparse(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    chunk = self.rfile.read(size)
                    self.rfile.readline()
                    if size == 0:
                        return data
                    data += chunk
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self) -> None:
            target = unquote(self.path)
            body = self._body()
            credential = self.headers.get("Authorization", "").partition("Credential=")[2].split("/")[0]
            if credential:
                with proxy.lock:
                    proxy.key_ids.add(credential)
            action = proxy.decide(self.command, target)
            if action == "drop":
                proxy.record(self.command, target, "dropped")
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action is not None:
                status, code, message = ERRORS[action]
                payload = b"" if self.command == "HEAD" else (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error>"
                ).encode()  # fmt: skip
                proxy.record(self.command, target, str(status))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            proxy.record(self.command, target, str(response.status))
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                    self.send_header(key, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))  # HEAD: the object's size
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler


def start_proxy(upstream: str) -> tuple[FaultProxy, ThreadingHTTPServer, str]:
    """Start a proxy for `upstream` on a free port; returns (proxy, server, its URL)."""
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return proxy, server, f"http://127.0.0.1:{server.server_address[1]}"
