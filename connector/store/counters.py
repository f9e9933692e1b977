"""Where the counters every process shares are kept: the rate limits, each helpdesk's
write-back budget and pause, the flags that spread a source's open circuit
(`CONNECTOR_RATE_LIMIT_STORAGE`: this process's memory, or Redis through the `limits`
library's storage).

A shared storage that does not answer must not hold what asked it: a Redis that accepts
connections and never answers would otherwise keep every request waiting for its counters.
Each call gives up after `TIMEOUT_S` (connecting or waiting for the answer, never tried again
on the spot), and whoever asked goes on with this process's own counters; after a failure the
storage is left alone for `RETRY_S` (`Backoff`), then tried again, as the shared cache is."""

from __future__ import annotations

import time
from typing import Any

from limits.storage import Storage, storage_from_string

TIMEOUT_S = 0.25
RETRY_S = 2.0


def storage_options(url: str) -> dict[str, Any]:
    """The options a storage at `url` is opened with: for Redis (every `redis…` scheme),
    bounded waits and no retry."""
    if not url.split(":", 1)[0].startswith("redis"):
        return {}
    from redis.backoff import NoBackoff  # the `scale` extra: only with a Redis storage
    from redis.retry import Retry

    return {"socket_timeout": TIMEOUT_S, "socket_connect_timeout": TIMEOUT_S,
            "retry": Retry(NoBackoff(), 0), "retry_on_timeout": False}


def shared_storage(url: str, **options: Any) -> Storage:
    """The `limits` storage at `url`, with `storage_options`."""
    storage = storage_from_string(url, **storage_options(url), **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"{url.split(':', 1)[0]}: an asynchronous storage cannot keep the "
                         "shared counters")
    return storage


class Backoff:
    """When a shared storage last failed to answer: it is not asked again for `RETRY_S` (not
    `store.guard.Outage`, which lets one trial connection through while the others fail)."""

    def __init__(self, retry_s: float = RETRY_S) -> None:
        self.retry_s = retry_s
        self._until = 0.0

    @property
    def skipping(self) -> bool:
        """Whether the storage is being left alone (it failed less than `retry_s` ago)."""
        return time.monotonic() < self._until

    def failed(self) -> None:
        """The storage did not answer: leave it alone for `retry_s`."""
        self._until = time.monotonic() + self.retry_s
