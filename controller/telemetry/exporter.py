"""The telemetry HTTP endpoint: ``/metrics`` (Prometheus text) and ``/status`` (JSON).

:class:`MetricsExporter` serves a :class:`~controller.telemetry.collector.TelemetryCollector`
with the standard library's threading HTTP server on an address the caller
chooses (port 0: any free port, see :attr:`MetricsExporter.port`)::

    exporter = MetricsExporter(collector, "0.0.0.0", 9100)
    exporter.start()
    ...
    exporter.stop()

Each ``GET /metrics`` reads the switches' counters once and answers the text
format 0.0.4; ``GET /status`` answers the collector's snapshot as JSON; other
paths get 404. Requests are logged at debug level. No module state. May
import the standard library and ``controller.telemetry``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from controller.telemetry.collector import TelemetryCollector
from controller.telemetry.prometheus import CONTENT_TYPE, render

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], collector: TelemetryCollector) -> None:
        self.collector = collector
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                body = render(self.server.collector.families()).encode()
                self._answer(200, CONTENT_TYPE, body)
            elif path == "/status":
                body = json.dumps(self.server.collector.snapshot(), indent=2).encode()
                self._answer(200, "application/json", body)
            else:
                self._answer(404, "text/plain; charset=utf-8", b"not found: try /metrics\n")
        except Exception as exc:
            log.exception("GET %s failed", path)
            self._answer(500, "text/plain; charset=utf-8", f"error: {exc}\n".encode())

    def _answer(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsExporter:
    """An HTTP server for one collector, in a background thread."""

    def __init__(self, collector: TelemetryCollector, host: str = "127.0.0.1", port: int = 0):
        """Serve ``collector`` on ``host:port`` once started (port 0: any free port)."""
        self.collector = collector
        self.host = host
        self.requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind and serve; return the bound port."""
        if self._server is not None:
            raise RuntimeError("metrics exporter already started: expected one start()")
        self._server = _Server((self.host, self.requested_port), self.collector)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="din-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)
        return self.port

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("metrics exporter not started: expected start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        """Start."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()
