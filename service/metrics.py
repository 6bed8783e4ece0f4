"""Prometheus metrics: requests by route template, latency, and sessions by decision.

Each app gets its own registry (tests build many apps). Labels use the route template
(``/v1/sessions/{session_id}``), never the raw path, so ids do not explode the series
count or leak into the metrics. With several worker processes set
``PROMETHEUS_MULTIPROC_DIR`` (``proofing serve --workers N`` does) and every process's
counters are summed at scrape time. Sessions by decision are counted in the database at
scrape time, so they are right whichever process or worker decided them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logging import event

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class DecisionCollector(Collector):
    """``proofing_sessions{status, decision}`` read from the store when scraped."""

    def __init__(self, count: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.count = count

    def collect(self) -> Iterable[Metric]:
        g = GaugeMetricFamily("proofing_sessions", "Applicant sessions by status and decision",
                              labels=["status", "decision"])
        try:
            for status, decision, n in self.count():
                g.add_metric([status, decision], n)
        except Exception as exc:  # a scrape must not fail because the store is down
            event("metrics_store_error", exc_type=type(exc).__name__)
        yield g


class Metrics:
    def __init__(self, count_sessions: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        # In multiprocess mode the counters live in files; the registry only reads them.
        target = None if self.multiprocess else self.registry
        self.requests = Counter("proofing_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=target)
        self.latency = Histogram("proofing_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=BUCKETS, registry=target)
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        self.registry.register(DecisionCollector(count_sessions))

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def safe_ids(scope: Scope) -> dict[str, Any]:
    """Session, case and evidence ids from the path, only when they are UUIDs: whatever else
    a client puts into a URL (a name, a token) never reaches the log."""
    params = scope.get("path_params") or {}
    return {k: v for k, v in params.items()
            if k in ("session_id", "case_id", "evidence_id") and isinstance(v, str) and _UUID.match(v)}


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class MetricsAndAccessLog:
    """Times every request, counts it by route template and status, and writes one access
    log line (request id, method, route template, status, duration, session id)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = os.urandom(6).hex()
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            elapsed = time.perf_counter() - start
            route, method = route_label(scope), scope.get("method", "-")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            ids = safe_ids(scope)
            event("request", request_id=rid, method=method, route=route, status=status,
                  duration_ms=round(elapsed * 1000, 1), **ids)
