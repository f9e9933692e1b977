"""FreeScout: the Sidebar Webhook module's fragment and its webhooks (`adapter`; the event
shapes are Help Scout's, from `helpscout.webhooks`)."""
