"""Helpdesk adapters: how each helpdesk shows our sidebar, sends its events and takes our
write-backs. One folder per helpdesk (its `kind`), with the same module names in each:
`adapter` (`KIND`, `Config`, its manifest entry as an `AdapterConfig`, and `build(config,
deps)`), then where they exist `config` (that `Config`, when other modules of the folder need
it), `webhooks`, `sidebar`, `session`, `api` (write-back) and `app` (the package an admin
installs). The registry finds adapters by folder name. Adapters may import identifiers,
config, i18n and `retry`; never Flask, the sources, the customer, events or anything above."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType


@cache
def adapter_modules() -> dict[str, ModuleType]:
    """kind -> adapter module, for every helpdesk folder of this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}.adapter")
        if hasattr(module, "Config") and hasattr(module, "build"):
            found[getattr(module, "KIND", info.name)] = module
    return dict(sorted(found.items()))
