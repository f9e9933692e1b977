"""What we keep, and where: the schema (`schema`: every table, one `MetaData`), its versioned
migrations (`migrate`, `migrations/`, from the frozen `baseline`: applied once per cluster) and
the engine (`engine`: SQLite or PostgreSQL, migrated on opening, the shared insert and audit
statements). The bottom layer: it imports nothing of ours; each domain reads and writes its
own tables through it (the link store in `customer.links`, the event log and write-back queue
in `events`, the jobs' locks and runs in `jobs.history`)."""
