"""Chatwoot: the dashboard app authorised by our app key (`adapter`), signed webhooks with
delivery ids (`webhooks`) and labels, attributes and private notes write-back (`api`)."""
