"""What we keep, and where: the schema (`schema`: every table, one `MetaData`), its versioned
migrations (`migrate`, `migrations/`, from the frozen `baseline`: applied once per cluster) and
the engine (`engine`: SQLite or PostgreSQL, migrated on opening, the shared insert and audit
statements), and where the counters every process shares are kept (`counters`: rate limits,
write-back budgets, shared flags; bounded waits on a Redis that does not answer), and which
records changed (`versions`: the database's triggers tell every write, for the pages kept).
The bottom layer: it imports nothing of ours; each domain reads and writes its own tables
through it (the link store in `customer.links`, the event log and write-back queue
in `events`, the jobs' locks and runs in `jobs.history`)."""
