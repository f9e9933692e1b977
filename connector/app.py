"""The service: settings, manifest, sources, cache, helpdesk adapters and web blueprints."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from connector.cache import MemoryCache, SingleFlight
from connector.details import DetailService
from connector.health import SourceHealth
from connector.helpdesk.base import SidebarHelpdesk
from connector.helpdesk.embed import EmbedLinks
from connector.manifest import Manifest, load_manifest
from connector.metrics import Metrics
from connector.models import SourceStatus
from connector.profile import ProfileAssembler
from connector.resolver import Resolver
from connector.search import CustomerSearch
from connector.settings import Settings
from connector.sources import build_source
from connector.sources.base import BuildContext
from connector.store import LinkStore

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
    helpdesks: dict[str, SidebarHelpdesk]
    metrics: Metrics
    health: dict[str, SourceHealth]
    pool: ThreadPoolExecutor

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
        """Stop the fan-out threads."""
        self.pool.shutdown(wait=False, cancel_futures=True)


def build_services(settings: Settings, manifest: Manifest | None = None) -> Services:
    """Wire the service from its settings (raises ManifestError for a broken manifest)."""
    manifest = manifest or load_manifest(settings.manifest)
    context = BuildContext(manifest_dir=manifest.directory,
                           default_region=manifest.brand.default_region)
    sources = {name: build_source(name, config, context)
               for name, config in manifest.sources.items()}
    pool = ThreadPoolExecutor(max_workers=max(8, 4 * len(sources)),
                              thread_name_prefix="source")
    resolver = Resolver(LinkStore(settings.database()), manifest.identity)
    assembler = ProfileAssembler(manifest, sources, SingleFlight(MemoryCache(), pool), pool,
                                 resolver)
    embed = EmbedLinks(settings.signing_key(), manifest.helpdesks.embed.link_ttl_s,
                       manifest.brand.default_region)
    health = {name: SourceHealth() for name in sources}
    services = Services(settings, manifest, assembler, DetailService(assembler),
                        CustomerSearch(assembler), embed,
                        {embed.kind: embed}, Metrics(), health, pool)
    assembler.observe = services.observe
    return services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """The Flask application."""
    from connector.web import register_blueprints

    services = services or build_services(settings or Settings())
    app = Flask(__name__)
    app.extensions["connector"] = services
    register_blueprints(app)
    return app
