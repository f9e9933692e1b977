"""Help Scout: the dynamic app (`adapter`), HMAC-SHA1 webhooks (`webhooks`, shared with
FreeScout) and OAuth2 tags and notes write-back (`api`)."""
