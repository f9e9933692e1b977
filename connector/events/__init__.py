"""What helpdesks tell us and what we tell them back: the event log (every webhook written before
its 202, claimed by one worker, retried, leased), the event worker (resolve, record the contact,
warm the cache, queue write-backs) and the durable write-back queue with its per-helpdesk and
per-person pacing. It may import `customer`, `helpdesk` (its event and write-back types), the
store and the model; never jobs, widgets, the web or the manifest."""
