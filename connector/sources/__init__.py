"""Source adapters: one module per kind of system (`rest`, `sql`, `files`; presets are YAML over
`rest`), one registry line each, and what every source shares: the cache with its single flight
and stale copies (`cache`), the breaker and concurrency cap (`guard`), the one classification of
HTTP failures (`http`), field mapping (`mapping`) and `connector check --probe` (`probe`). It may
import the model, identifiers, config and `retry`; never Flask, helpdesks, the customer or
anything above."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.sources.base import BuildContext, Source, SourceConfig
from connector.sources.files import FilesConfig, FilesSource
from connector.sources.rest import RestConfig, RestSource
from connector.sources.sql import SqlConfig, SqlSource

# type name in the manifest -> (its manifest model, the adapter built from it)
SOURCE_TYPES: dict[str, tuple[type[SourceConfig], Callable[[str, Any, BuildContext], Source]]] = {
    "rest": (RestConfig, RestSource),
    "files": (FilesConfig, FilesSource),
    "sql": (SqlConfig, SqlSource),
}


def build_source(name: str, config: SourceConfig, context: BuildContext) -> Source:
    """The adapter for one validated manifest entry."""
    _, factory = SOURCE_TYPES[config.type]
    return factory(name, config, context)
