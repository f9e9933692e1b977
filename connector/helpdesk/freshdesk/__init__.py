"""Freshdesk: the FDK app package (`app`), secret-header webhooks (`webhooks`) and tags, notes and
contact fields write-back (`api`); `adapter` ties them together."""
