"""The service, wired: settings, manifest, sources, cache, resolver, helpdesk adapters, event
worker and jobs (`build_services`). The Flask app on top of it is `connector.web.create_app`."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from connector.customer.brand_nps import recent_nps
from connector.customer.details import DetailService
from connector.customer.links import LinkStore
from connector.customer.profile import ProfileAssembler
from connector.customer.resolver import Resolver
from connector.customer.search import CustomerSearch
from connector.events.budgets import budget_for
from connector.events.log import EventLog
from connector.events.outbox import Outbox
from connector.events.worker import EventWorker
from connector.events.writeback import WriteBackQueue
from connector.helpdesk import adapter_modules
from connector.helpdesk.base import Helpdesk, SidebarHelpdesk
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.jobs.runner import JobRunner, build_jobs
from connector.manifest import Manifest, load_manifest
from connector.models import SourceStatus
from connector.ops.gate import Gate
from connector.ops.health import SourceHealth
from connector.ops.metrics import Metrics
from connector.settings import Settings
from connector.sources import build_source
from connector.sources.cache import MemoryCache, SingleFlight
from connector.sources.shared_state import shared_flags_for
from connector.store.engine import settle_schema
from connector.store.guard import Limits
from connector.widgets.kept import KeptPages
from connector.widgets.record import Fragments
from connector.widgets.rendered import RenderedBlocks

if TYPE_CHECKING:
    from connector.sources.redis_cache import RedisCache

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request, a command or a job works with; built once per process."""

    settings: Settings
    manifest: Manifest
    assembler: ProfileAssembler
    details: DetailService
    search: CustomerSearch
    embed: EmbedLinks
    helpdesks: dict[str, SidebarHelpdesk]  # every sidebar surface, `embed` included
    adapters: dict[str, Helpdesk]  # the helpdesks that send events and take write-backs
    events: EventLog
    writebacks: WriteBackQueue
    outbox: Outbox  # agents' corrections on their way to the sources
    worker: EventWorker
    metrics: Metrics
    health: dict[str, SourceHealth]
    pool: ThreadPoolExecutor
    jobs: JobRunner  # the scheduled jobs (scheduled only once `serve` starts them)
    rendered: RenderedBlocks = field(default_factory=RenderedBlocks)  # warm sidebars' blocks
    pages: KeptPages = field(default_factory=lambda: KeptPages(0, None, None))  # whole pages

    def observe(self, name: str, status: SourceStatus, from_cache: bool) -> None:
        """Record a source's answer for the metrics and the admin page."""
        self.metrics.observe_source(name, status, from_cache)
        self.health[name].observe(status, from_cache)

    @property
    def demo_dir(self) -> Path:
        """Where the embedded demo's data lives (relative paths from the manifest's folder)."""
        path = self.settings.demo_dir
        return path if path.is_absolute() else self.manifest.directory / path

    def close(self) -> None:
        """Stop the event worker, the job scheduler, the sources' threads and the shared pool."""
        self.worker.stop()
        self.jobs.stop()
        self.assembler.close()
        self.pages.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def build_services(settings: Settings, manifest: Manifest | None = None) -> Services:
    """Wire the service from its settings (raises ManifestError for a broken manifest)."""
    manifest = manifest or load_manifest(settings.manifest)
    context = manifest.source_context()
    sources = {name: build_source(name, config, context)
               for name, config in manifest.sources.items()}
    # lookups run on each source's own threads (its guard's); this pool only serves agents'
    # searches across sources
    pool = ThreadPoolExecutor(max_workers=max(8, 4 * len(sources)),
                              thread_name_prefix="search")
    # the schema migrated (or checked) once, here; raises SchemaError when it cannot be used
    settle_schema(settings.database(), database_limits(settings), settings.auto_migrate)
    resolver = Resolver(LinkStore(settings.database(), database_limits(settings),
                                  digest_key=settings.signing_key()), manifest.identity)
    cache = MemoryCache(max_bytes=settings.cache_max_bytes,
                        max_entry_bytes=settings.cache_max_entry_bytes)
    flight = SingleFlight(cache, pool)
    shared: RedisCache | None = None
    if settings.cache_url:  # shared by every process; this memory stands in while it is away
        # imported only then: the redis client is the `scale` extra, not the base install
        from connector.sources.redis_cache import RedisCache, SharedSingleFlight, namespace

        shared = RedisCache(settings.cache_url, namespace(settings.cache_prefix, manifest.path),
                            fallback=cache)
        flight = SharedSingleFlight(shared, pool)
    # a source's open circuit is the cluster's when the rate limits are kept in Redis
    circuits = shared_flags_for(settings.rate_limit_storage, settings.rate_limit_prefix)
    assembler = ProfileAssembler(manifest, sources, flight, pool, resolver, circuits=circuits)
    assembler.gate = Gate(settings.cpu_slots)
    assembler.gate.watch(resolver.store.engine)
    embed = EmbedLinks(settings.signing_key(), manifest.helpdesks.embed.link_ttl_s,
                       manifest.brand.default_region,
                       frame_ancestors=tuple(manifest.helpdesks.embed.frame_ancestors),
                       session_max_s=manifest.helpdesks.embed.session_max_s)
    details = DetailService(assembler)
    rendered = RenderedBlocks(settings.render_cache_mb * 1024 * 1024)
    fragments = Fragments(manifest, assembler, details.offers, embed, settings.public_url,
                          manifest.helpdesks.embed.fragment_link_ttl_s, rendered=rendered)
    deps = HelpdeskDeps(links=embed, public_url=settings.public_url,
                        region=manifest.brand.default_region, secret_key=settings.signing_key(),
                        render_fragment=fragments, clock=time.time)
    modules = adapter_modules()
    adapters: dict[str, Helpdesk] = {kind: modules[kind].build(config, deps)
                                     for kind, config in manifest.helpdesks.adapters.items()}
    events = EventLog(resolver.store.engine, lease_s=settings.event_lease_s)
    assembler.history = events
    assembler.abc_override = manifest.jobs.segments.abc_override
    # each helpdesk's call budget: the cluster's when the rate limits are kept in Redis
    queue = WriteBackQueue(resolver.store.engine,
                           budget=budget_for(settings.rate_limit_storage,
                                             settings.rate_limit_prefix))
    noted = frozenset(kind for kind, config in manifest.helpdesks.adapters.items()
                      if config.write_back.enabled)
    outbox = Outbox(resolver.store.engine, assembler, lease_s=settings.event_lease_s,
                    notes=queue, noted=noted, marketing=manifest.marketing)
    worker = EventWorker(events, assembler, queue, adapters, manifest.helpdesks.adapters,
                         threads=settings.worker_threads, outbox=outbox)
    health = {name: SourceHealth() for name in sources}
    metrics = Metrics()
    metrics.watch_brand_nps(lambda: recent_nps(resolver.store.engine))
    metrics.watch_rendered(rendered)
    pages = KeptPages(settings.kept_pages_mb * 1024 * 1024, resolver.store.engine,
                      flight.cache.stamps, grace=assembler.revalidate_s,
                      shared=shared if settings.kept_pages_shared else None)
    metrics.watch_kept_pages(pages)
    if shared is not None:
        metrics.watch_shared_cache(shared)
    jobs = build_jobs(manifest, worker, resolver.store.engine, metrics)
    services = Services(settings, manifest, assembler, details, CustomerSearch(assembler), embed,
                        {embed.kind: embed, **adapters}, adapters, events, queue, outbox, worker,
                        metrics, health, pool, jobs, rendered, pages)
    assembler.observe = services.observe
    return services


def database_limits(settings: Settings) -> Limits:
    """How long the database may keep a request waiting, from the settings' `db_*`."""
    return Limits(timeout_s=settings.db_timeout_s,
                  statement_timeout_s=settings.db_statement_timeout_s,
                  retry_s=settings.db_retry_s)
