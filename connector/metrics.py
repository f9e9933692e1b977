"""Prometheus metrics of one service instance (its own registry: no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from connector.models import SourceStatus


class Metrics:
    """Request latency, source outcomes and latency, cache hits."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "connector_request_seconds", "HTTP request latency", ["endpoint", "status"],
            registry=self.registry,
        )
        self.source_results = Counter(
            "connector_source_results", "Source answers by status", ["source", "status"],
            registry=self.registry,
        )
        self.source_latency = Histogram(
            "connector_source_seconds", "Source latency (cache included)", ["source"],
            registry=self.registry,
        )
        self.cache = Counter(
            "connector_cache_lookups", "Source cache lookups", ["source", "result"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "connector_webhooks", "Helpdesk webhook deliveries by outcome", ["helpdesk", "outcome"],
            registry=self.registry,
        )

    def observe_source(self, name: str, status: SourceStatus, from_cache: bool) -> None:
        """Record one source's answer to one lookup."""
        self.source_results.labels(name, status.status.value).inc()
        if status.latency_ms is not None:
            self.source_latency.labels(name).observe(status.latency_ms / 1000)
        self.cache.labels(name, "hit" if from_cache else "miss").inc()

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
