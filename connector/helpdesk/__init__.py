"""Helpdesk adapters: how each helpdesk asks for a sidebar (and, later, sends its events)."""
