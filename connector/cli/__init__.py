"""The `connector` command, one module per command group: `main` (the parser and dispatch),
`check`, `customers` (lookup, link, unlink, forget), `apps` (the helpdesk app packages),
`jobs`, `serve` (gunicorn). The top layer with `web`: it may import anything; nothing imports
it."""
