"""Sidebar widgets: the blocks of the record (one module each, `base.Block` their protocol), the
registry and the pages and fragments they make up (`page`), the layout the manifest declares
(`layout`: blocks, custom cards) and the record as helpdesks embed it (`record`). It may import
`customer` (to read and compute over the customer), `helpdesk.base` and `helpdesk.embed` (the
sidebar context and its sealed links), the model, identifiers, config and i18n; never events,
jobs, the web or the manifest (it reads the manifest through `SidebarSettings`)."""
