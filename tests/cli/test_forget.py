"""`connector forget` as an admin runs it on the demo: what it erased in counts, the removal
of our tags queued for the helpdesk that holds the person, the sources that still know them;
`--suppress` keeps them from being looked up or learnt again until `connector unsuppress`."""

from __future__ import annotations

from pathlib import Path

from connector.customer.links import LinkStore
from connector.events.log import EventLog
from connector.events.writeback import WriteBackQueue
from tests.conftest import connector

PAULINE = "pauline.deneve@easiware.fr"


def test_forget_says_what_it_erased_and_suppress_holds_until_lifted(
        env: dict[str, str], tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/connector.sqlite"
    private = {**env, "CONNECTOR_DATABASE_URL": database, "CONNECTOR_DATA_DIR": str(tmp_path),
               "ZENDESK_WRITE_BACK": "true"}
    assert connector("lookup", "--email", PAULINE, env=private).returncode == 0
    store = LinkStore(database)
    [person] = {link.customer_id
                for link in store.owners([("email", PAULINE)])[("email", PAULINE)]}
    EventLog(store.engine).remember_requester("zendesk", "361", person)
    store.engine.dispose()

    forgot = connector("forget", "--email", PAULINE, "--suppress", "--actor", "dpo", env=private)

    assert forgot.returncode == 0, forgot.stderr
    lines = forgot.stdout.splitlines()
    assert lines[0].startswith("erased 1 customer record(s): ") and "identity_links" in lines[0]
    assert "queued 1 removal(s) of our tags and fields in the helpdesks" in forgot.stdout
    assert "suppressed" in forgot.stdout
    assert lines[-2].startswith("still known to these sources, which connector cannot erase")
    assert "erp" in lines[-2] and PAULINE not in forgot.stdout
    # this process's memory is not the running service's: said, with what drops it at once
    assert lines[-1].startswith("note: the source cache is each process's own memory")
    assert "POST /api/v1/customers/forget" in lines[-1]
    store = LinkStore(database)
    [removal] = WriteBackQueue(store.engine).pending()
    assert (removal.helpdesk, removal.requester_id, removal.erases, removal.tags) == (
        "zendesk", "361", True, ())
    assert store.owners([("email", PAULINE)]) == {("email", PAULINE): []}
    assert [e["actor"] for e in store.audit_trail() if e["action"] in ("suppress", "forget")] \
        == ["dpo", "dpo"]
    store.engine.dispose()

    hidden = connector("lookup", "--email", PAULINE, env=private)
    assert hidden.returncode == 3 and "suppressed" in hidden.stderr and not hidden.stdout
    lifted = connector("unsuppress", "--email", PAULINE, "--actor", "dpo", env=private)
    assert lifted.returncode == 0, lifted.stderr
    assert connector("lookup", "--email", PAULINE, env=private).returncode == 0
    again = connector("unsuppress", "--email", PAULINE, env=private)
    assert again.returncode == 3 and "not suppressed" in again.stderr
