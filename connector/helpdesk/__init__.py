"""Helpdesk adapters: how each helpdesk shows our sidebar, sends its events and takes our
write-backs. One module per helpdesk (its `kind`), each exporting `Config` (its manifest entry,
an `AdapterConfig`) and `build(config, deps)`; the registry finds them by name."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

NOT_ADAPTERS = frozenset({"base", "config", "embed", "pages", "png"})


@cache
def adapter_modules() -> dict[str, ModuleType]:
    """kind -> module, for every adapter module of this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in NOT_ADAPTERS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "Config") and hasattr(module, "build"):
            found[getattr(module, "KIND", info.name)] = module
    return dict(sorted(found.items()))
