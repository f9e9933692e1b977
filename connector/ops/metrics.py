"""Prometheus metrics of one service instance (its own registry: no global state).

With several processes behind one port (`connector serve --workers N`), a scrape reaches
whichever web process answers; so the supervisor shares them (`share_between_processes`):
prometheus_client's multiprocess mode, each process writing its counters to files in one
folder and every scrape summing them all, so `rate()` sees one service, not processes in turn.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from connector.models import SourceStatus

log = logging.getLogger(__name__)


SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for the folder
MADE_PREFIX = "connector-metrics-"  # then the supervisor's pid, then tempfile's letters


def share_between_processes(base: Path | None = None) -> Path | None:
    """From now on (call it before forking), every Metrics of this process and its children
    writes its values to files in one folder that each scrape sums: PROMETHEUS_MULTIPROC_DIR
    when the operator sets it (its old `*.db` files removed: counters start again with the
    service), else a new folder in /dev/shm (memory; `base` for tests), named with this
    process's id: returned, for `unshare`. Folders a killed supervisor left there (its
    process gone: `unshare` never ran) are removed first, so a service restarted again and
    again after SIGKILL or the OOM killer does not fill the memory /dev/shm is made of."""
    given = os.environ.get(SHARED_DIR)
    made = None
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
    else:
        shm = base or Path("/dev/shm")
        where = shm if os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
        _sweep(where)
        folder = Path(tempfile.mkdtemp(prefix=f"{MADE_PREFIX}{os.getpid()}-", dir=where))
        os.environ[SHARED_DIR] = str(folder)
        made = folder
    values.ValueClass = values.MultiProcessValue()  # what prometheus_client picks at import
    return made


def _sweep(where: Path) -> None:
    """Remove the folders of supervisors that are gone (ours only: same user)."""
    for folder in where.glob(f"{MADE_PREFIX}*-*"):
        pid = folder.name.removeprefix(MADE_PREFIX).partition("-")[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)  # still running (or another user's process): kept
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed the metrics folder a stopped service left: %s", folder)
        except OSError:
            continue


def restarts() -> Callable[[str], None]:
    """The supervisor's count of the processes it started again, by why ("died", "stuck": it
    ended itself for not moving, "silent": its heartbeat stopped). The supervisor serves no
    metrics: with the processes' metrics shared (`share_between_processes`, called first), its
    count is read with theirs at every scrape."""
    counter = Counter("connector_processes_restarted_total", "Processes of `serve --workers N` "
                      "started again by their supervisor, by why", ["why"],
                      registry=CollectorRegistry())
    return lambda why: counter.labels(why).inc()


def process_ended(pid: int) -> None:
    """A child ended: its gauges no longer count (its counters do, as Prometheus expects)."""
    folder = os.environ.get(SHARED_DIR)
    if folder:
        mark_process_dead(pid, folder)


def unshare(made: Path | None) -> None:
    """The service stops: remove the folder `share_between_processes` made, if it made one."""
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


class Metrics:
    """Request latency, source outcomes and latency, cache hits, webhooks, job runs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = os.environ.get(SHARED_DIR) or None  # several processes: their sum
        self._scraped: list[Collector] = []  # read at each scrape (from the database)
        self._series: dict[tuple[str, str, bool], tuple[Any, Any, Any]] = {}
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
        self.rendered = Counter(
            "connector_rendered_blocks", "Sidebar blocks served rendered already (hit) or "
            "rendered now (miss)", ["result"], registry=self.registry,
        )
        self._rendered_hit = self.rendered.labels("hit")
        self._rendered_miss = self.rendered.labels("miss")
        self.kept_pages = Counter(
            "connector_kept_pages", "Sidebar pages served kept (hit), made and kept (kept), "
            "made and not kept (unkept: a source down, a part unread, a write meanwhile), or "
            "taken from the shared cache, made by another process (shared)",
            ["result"], registry=self.registry,
        )
        self._kept_results = {result: self.kept_pages.labels(result)
                              for result in ("hit", "shared", "kept", "unkept")}
        self.kept_pages_bytes = Gauge(
            "connector_kept_pages_bytes", "Bytes of sidebar pages the processes keep",
            registry=self.registry, multiprocess_mode="livesum",
        )
        self.rendered_bytes = Gauge(
            "connector_rendered_blocks_bytes", "Bytes of rendered blocks the processes keep",
            registry=self.registry, multiprocess_mode="livesum",
        )
        self.stalled = Gauge(
            "connector_stalled_seconds", "How long a process's requests (or events) have been "
            "under way with none ending: at CONNECTOR_STUCK_S the process is ended and started "
            "again", ["what"], registry=self.registry, multiprocess_mode="livemax",
        )
        self.shared_degraded = Gauge(
            "connector_shared_cache_degraded", "1 while the shared cache (Redis) does not "
            "answer and a process's memory stands in", registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.shared_fallbacks = Counter(
            "connector_shared_cache_fallbacks", "Cache calls answered from a process's memory "
            "because Redis did not", registry=self.registry,
        )
        self.shared_outages = Counter(
            "connector_shared_cache_outages", "Times the shared cache (Redis) stopped "
            "answering", registry=self.registry,
        )

    def watch_jobs(self, last_success: Callable[[], dict[str, float]]) -> None:
        """Export each job's last success (any process: read from the database at scrape)."""
        self._scrape(_LastSuccess(last_success))

    def watch_brand_nps(self, months: Callable[[], Sequence[MonthFigures]]) -> None:
        """Export the brand's NPS and answers per month (the last months the `segments` job
        counted: read from the database at scrape)."""
        self._scrape(_BrandNps(months))

    def watch_shared_cache(self, cache: SharedCacheState) -> None:
        """Export whether the shared cache (Redis) is away, and how often memory stood in."""
        self.shared_degraded.set(int(cache.degraded))
        cache.noted = self._shared_cache_noted

    def watch_rendered(self, kept: RenderedState) -> None:
        """Export how often a warm sidebar's blocks came rendered already, and their bytes."""
        kept.noted = self._rendered_noted

    def watch_kept_pages(self, kept: KeptPagesState) -> None:
        """Export how often a sidebar page was served kept, and their bytes."""
        kept.noted = self._kept_noted

    def _kept_noted(self, result: str, size_bytes: int) -> None:
        self._kept_results[result].inc()
        if result != "hit":
            self.kept_pages_bytes.set(size_bytes)

    def _scrape(self, collector: Collector) -> None:
        self.registry.register(collector)
        self._scraped.append(collector)

    def _shared_cache_noted(self, what: str) -> None:
        if what == "fallback":
            self.shared_fallbacks.inc()
        elif what == "outage":
            self.shared_outages.inc()
            self.shared_degraded.set(1)
        elif what == "back":
            self.shared_degraded.set(0)

    def _rendered_noted(self, hit: bool, size_bytes: int) -> None:
        if hit:  # every block of a warm sidebar: one increment, nothing else
            self._rendered_hit.inc()
            return
        self._rendered_miss.inc()
        self.rendered_bytes.set(size_bytes)  # what is kept changes only when blocks are

    def observe_source(self, name: str, status: SourceStatus, from_cache: bool) -> None:
        """Record one source's answer to one lookup (each labelled series looked up once:
        every source of every opening comes through here)."""
        series = self._series.get((name, status.status.value, from_cache))
        if series is None:
            series = (self.source_results.labels(name, status.status.value),
                      self.source_latency.labels(name),
                      self.cache.labels(name, "hit" if from_cache else "miss"))
            self._series[(name, status.status.value, from_cache)] = series
        results, latency, cache = series
        results.inc()
        if status.latency_ms is not None:
            latency.observe(status.latency_ms / 1000)
        cache.inc()

    def note_stalled(self, what: str, seconds: float) -> None:
        """The watchdog's reading, each second (`connector.cli.watchdog`)."""
        self.stalled.labels(what).set(round(seconds, 1))

    def render(self) -> bytes:
        """The metrics in Prometheus' text format: this process's, or with several processes
        their sum (and what the database says, read once)."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, self.shared_dir)
        for collector in self._scraped:
            registry.register(collector)
        return generate_latest(registry)


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
    """The shared cache (`connector.sources.redis_cache.RedisCache`): whether it is away now,
    and `noted`, which it calls with "fallback", "outage" or "back" as they happen."""

    @property
    def degraded(self) -> bool: ...
    noted: Callable[[str], None]


class RenderedState(Protocol):
    """The rendered blocks (`connector.widgets.rendered.RenderedBlocks`): `noted`, which they
    call at each block with whether it was kept already and the bytes they keep."""

    noted: Callable[[bool, int], None]


class KeptPagesState(Protocol):
    """The kept pages (`connector.widgets.kept.KeptPages`): `noted`, which they call at each
    page with what became of it and the bytes they keep."""

    noted: Callable[[str, int], None]


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
