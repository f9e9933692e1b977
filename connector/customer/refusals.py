"""What an agent's change (a correction, an action) is refused with, before anything is kept:
the message for the API, a `reason` naming it for the page's catalog, and an HTTP status."""

from __future__ import annotations


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
