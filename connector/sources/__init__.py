"""Source adapters: one module per kind of system, one registry line each."""

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
