"""The `connector` command, one module per command group: `main` (the parser, dispatch and
`check`), `customers` (lookup, link, unlink, forget), `apps` (the helpdesk app packages), `jobs`,
`identity` (audit and repair of the link store), `serve` (gunicorn), and `common` (exit codes,
identifier options, manifest errors). The top layer: it may import anything; nothing imports
it."""
