"""Zendesk: the signed-URL sidebar app (`sidebar`, `session`), signed webhooks (`webhooks`), the
Tags/Users/Tickets API write-back (`api`) and the ZAF app package (`app`); `adapter` ties them
together."""
