"""The customer: who this is and what we know of them. Owns identity resolution (the link store,
the resolver, search), the record's assembly from the sources through their cache (fan-out,
merge, the second wave), what is computed over it (KPIs, sentiment, contacts, flags, complaints,
the paths custom cards read), agents' notes and on-demand details. It may import `sources`, the
store, the canonical model, identifiers, config and i18n; never helpdesks, events, jobs,
widgets, the web or the manifest (it reads the manifest through `RecordSettings`)."""
