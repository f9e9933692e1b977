"""The one thing every blueprint reads from the application: its services."""

from __future__ import annotations

from flask import current_app

from connector.app import Services


def services() -> Services:
    """This application's services."""
    return current_app.extensions["connector"]  # type: ignore[no-any-return]
