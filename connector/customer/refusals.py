"""What an agent's change (a correction, an action) is refused with, before anything is kept:
the message for the API, a `reason` naming it for the page's catalog, and an HTTP status."""

from __future__ import annotations

from connector.models import CustomerProfile, SourceState


class InvalidChange(ValueError):
    """A change that cannot be made as given (HTTP 400)."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class ChangeRefused(Exception):
    """A change that may not be made now (HTTP `status`: 404, 409, 503)."""

    def __init__(self, message: str, reason: str, status: int = 409) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def may(roles: list[str] | None, role: str | None) -> bool:
    """Whether an agent of `role` may make a change its manifest entry keeps for `roles`
    (none listed: every agent; listed: only those, compared without case)."""
    return roles is None or (role is not None
                             and role.strip().casefold() in {r.casefold() for r in roles})


def recent_enough(profile: CustomerProfile, source: str, max_age_s: float) -> None:
    """Refuse a change to `source` (ChangeRefused, 409) when the record shows an old copy of
    it, kept while the source does not answer, older than `max_age_s` (0: never refused):
    the agent would be changing what they cannot see as it is now."""
    status = profile.sources.get(source)
    if not max_age_s or status is None or status.status != SourceState.STALE:
        return
    age = status.age_s or 0
    if age > max_age_s:
        raise ChangeRefused(f"the record shows a copy of {source} {round(age / 60)} min old "
                            f"and {source} does not answer: try again once it does", "stale")
