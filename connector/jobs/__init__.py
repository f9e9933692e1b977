"""Scheduled jobs, once per cluster: their schedules (the manifest's `jobs:` section), the runner
(APScheduler in every serve process; each run first claims its job and slot in the database),
the run history, and one module per job (`refresh_flags`, `purge`, `segments`, `refresh_reviews`,
`refresh_loyalty`; `feeds` is what the two over change feeds share). It may import `events`,
`customer`, the store and the model; never widgets, the web, the CLI or the manifest (it reads
the manifest through `JobSettings`)."""
