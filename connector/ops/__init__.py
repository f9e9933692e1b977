"""What an operator watches: Prometheus metrics of one process (its own registry) and each source's
recent health for the admin page. It imports only the canonical model; everything above may
report into it."""
