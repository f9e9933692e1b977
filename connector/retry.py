"""How long a server asked us to wait: one reading of `Retry-After` for every outbound client
(sources and helpdesk APIs alike)."""

from __future__ import annotations

import email.utils
import time

MAX_WAIT_S = 3600.0


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    if value.strip().isdigit():
        return min(float(value), MAX_WAIT_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_WAIT_S))
