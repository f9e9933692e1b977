"""Prometheus metrics of one service instance (its own registry: no global state)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connector.models import SourceStatus

log = logging.getLogger(__name__)


class Metrics:
    """Request latency, source outcomes and latency, cache hits, webhooks, job runs."""

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
        self.job_runs = Counter(
            "connector_job_runs", "Scheduled job runs in this process by outcome (ok, failed, "
            "skipped: another process holds it or ran it)", ["job", "outcome"],
            registry=self.registry,
        )

    def watch_jobs(self, last_success: Callable[[], dict[str, float]]) -> None:
        """Export each job's last success (any process: read from the database at scrape)."""
        self.registry.register(_LastSuccess(last_success))

    def watch_brand_nps(self, months: Callable[[], Sequence[MonthFigures]]) -> None:
        """Export the brand's NPS and answers per month (the last months the `segments` job
        counted: read from the database at scrape)."""
        self.registry.register(_BrandNps(months))

    def watch_shared_cache(self, cache: SharedCacheState) -> None:
        """Export whether the shared cache (Redis) is away, and how often memory stood in."""
        self.registry.register(_SharedCache(cache))

    def watch_rendered(self, kept: RenderedState) -> None:
        """Export how often a warm sidebar's blocks came rendered already, and their bytes."""
        self.registry.register(_Rendered(kept))

    def observe_source(self, name: str, status: SourceStatus, from_cache: bool) -> None:
        """Record one source's answer to one lookup."""
        self.source_results.labels(name, status.status.value).inc()
        if status.latency_ms is not None:
            self.source_latency.labels(name).observe(status.latency_ms / 1000)
        self.cache.labels(name, "hit" if from_cache else "miss").inc()

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class MonthFigures(Protocol):
    """One month of the brand's NPS (`connector.customer.brand_nps.MonthlyNps`)."""

    @property
    def month(self) -> str: ...
    @property
    def promoters(self) -> int: ...
    @property
    def passives(self) -> int: ...
    @property
    def detractors(self) -> int: ...
    @property
    def nps(self) -> float: ...


class SharedCacheState(Protocol):
    """The shared cache's outage figures (`connector.sources.redis_cache.RedisCache`)."""

    @property
    def degraded(self) -> bool: ...
    @property
    def fallbacks(self) -> int: ...
    @property
    def outages(self) -> int: ...


class _SharedCache(Collector):
    """`connector_shared_cache_degraded` (1 while Redis does not answer and this process's
    memory stands in), `connector_shared_cache_fallbacks_total` (cache calls memory answered)
    and `connector_shared_cache_outages_total`."""

    def __init__(self, cache: SharedCacheState) -> None:
        self.cache = cache

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily("connector_shared_cache_degraded", "1 while the shared cache "
                                "(Redis) does not answer and this process's memory stands in",
                                value=int(self.cache.degraded))
        yield CounterMetricFamily("connector_shared_cache_fallbacks", "Cache calls answered "
                                  "from this process's memory because Redis did not",
                                  value=self.cache.fallbacks)
        yield CounterMetricFamily("connector_shared_cache_outages", "Times the shared cache "
                                  "(Redis) stopped answering", value=self.cache.outages)


class RenderedState(Protocol):
    """The rendered blocks' figures (`connector.widgets.rendered.RenderedBlocks`)."""

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def size_bytes(self) -> int: ...


class _Rendered(Collector):
    """`connector_rendered_blocks_total{result}` (hit: kept, miss: rendered) and
    `connector_rendered_blocks_bytes` (what this process keeps)."""

    def __init__(self, kept: RenderedState) -> None:
        self.kept = kept

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        blocks = CounterMetricFamily("connector_rendered_blocks", "Sidebar blocks served "
                                     "rendered already (hit) or rendered now (miss)",
                                     labels=["result"])
        blocks.add_metric(["hit"], self.kept.hits)
        blocks.add_metric(["miss"], self.kept.misses)
        yield blocks
        yield GaugeMetricFamily("connector_rendered_blocks_bytes", "Bytes of rendered blocks "
                                "this process keeps", value=self.kept.size_bytes)


class _BrandNps(Collector):
    """`connector_brand_nps{month}` and `connector_brand_nps_answers{month,category}`, as the
    database says (a dozen months: a bounded label set)."""

    def __init__(self, read: Callable[[], Sequence[MonthFigures]]) -> None:
        self.read = read

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing to check at registration (no database read then)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        score = GaugeMetricFamily("connector_brand_nps", "The brand's Net Promoter Score per "
                                  "month (% promoters - % detractors)", labels=["month"])
        answers = GaugeMetricFamily("connector_brand_nps_answers", "NPS answers per month by "
                                    "category", labels=["month", "category"])
        try:
            found = self.read()
        except Exception:  # the database is away: the other metrics still render
            log.warning("brand NPS unreadable for /metrics", exc_info=True)
            found = []
        for month in found:
            score.add_metric([month.month], month.nps)
            for category, count in (("promoter", month.promoters), ("passive", month.passives),
                                    ("detractor", month.detractors)):
                answers.add_metric([month.month, category], count)
        yield score
        yield answers


class _LastSuccess(Collector):
    """`connector_job_last_success_timestamp_seconds{job}`, as the database says."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing to check at registration (no database read then)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("connector_job_last_success_timestamp_seconds",
                                  "When each scheduled job last finished well (Unix time)",
                                  labels=["job"])
        try:
            found = self.read()
        except Exception:  # the database is away: the other metrics still render
            log.warning("job runs unreadable for /metrics", exc_info=True)
            found = {}
        for job, at in sorted(found.items()):
            gauge.add_metric([job], at)
        yield gauge
