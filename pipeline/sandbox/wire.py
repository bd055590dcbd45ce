"""The sandbox's sockets: a keep-alive HTTP/1.1 handler and a threaded loopback server.

Only moves bytes between connections and `SandboxApp.dispatch` (sandbox_http); no Flowroute
behaviour lives here.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline.sandbox.http import JSON_API, MAX_BODY_BYTES, Request, SandboxApp, error_payload


class SandboxHandler(BaseHTTPRequestHandler):
    """Moves bytes between a keep-alive HTTP/1.1 connection and `server.app`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it keep-alive answers wait ~40 ms (engineering notes)
    server_version = "FlowrouteSandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections end after this

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the app keeps its own log."""

    def _handle(self) -> None:
        app: SandboxApp = self.server.app  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        body, body_error = self._read_body(headers)
        response = app.dispatch(Request(self.command, self.path, headers, body, body_error))
        if body_error is not None:
            self.close_connection = True  # the unread body would be taken for the next request
        if response.drop:
            self.close_connection = True
            return
        data = response.body()
        self.send_response(response.status)
        if data:
            self.send_header("Content-Type", JSON_API)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self, headers: dict[str, str]) -> tuple[bytes, tuple[int, str] | None]:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        text = headers.get("content-length", "0").strip() or "0"
        if not text.isdigit():
            return b"", (400, f"Bad Content-Length {text!r}.")
        length = int(text)
        if length > MAX_BODY_BYTES:
            return b"", (413, f"The request body is over {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length), None

    def _read_chunked(self) -> tuple[bytes, tuple[int, str] | None]:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                return b"", (400, "Bad chunked encoding.")
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(parts), None
            total += size
            if total > MAX_BODY_BYTES:
                return b"", (413, f"The request body is over {MAX_BODY_BYTES} bytes.")
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get a JSON:API body too, never the stdlib's HTML page."""
        data = json.dumps(error_payload(code, message or explain or "Bad request.")).encode()
        self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", JSON_API)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = _handle


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded loopback server that stops at once: its loop wakes on a socketpair rather than
    polling, and it remembers open connections so idle keep-alive ones are ended too."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app_factory: Callable[[str], SandboxApp]) -> None:
        super().__init__(address, SandboxHandler)
        self.connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self.app = app_factory(f"http://127.0.0.1:{self.server_address[1]}")

    def serve(self) -> None:
        """Accept connections until stop_serving(); each is handled in its own daemon thread."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stopping.is_set():
                        # BaseServer's own accept-and-dispatch step (what serve_forever calls).
                        self._handle_request_noblock()  # type: ignore[attr-defined]

    def stop_serving(self) -> None:
        """End the accept loop, shut every open connection, close the listening socket. The
        caller joins the thread running serve() in between (see SandboxServer.stop)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")

    def close(self) -> None:
        with self._lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):  # already closed by its client
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self.connections.discard(request)
        super().shutdown_request(request)
