"""Embedded demo data for the connector: its generator and a demo back office."""
