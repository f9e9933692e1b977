"""django-helpdesk: webhooks authenticated by HTTP Basic in the URL and private follow-ups as
write-back (`adapter`)."""
