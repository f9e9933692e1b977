"""An agent's search by name after `forget --suppress`: the sources that search by name still
know the person, but the search neither shows them nor learns their name again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from connector.app import Services
from connector.events.erasure import forget, written_to
from connector.identifiers import Identifiers
from tests.conftest import MANIFEST, Backoffice, service_env
from tests.helpdesk.scouts import in_process

PAULINE = "pauline.deneve@easiware.fr"


@pytest.fixture
def demo(demo_data: Path, backoffice: Backoffice, tmp_path: Path) -> Iterator[Services]:
    running = in_process(MANIFEST, service_env(demo_data, backoffice.url, tmp_path), tmp_path)
    yield running
    running.close()


def test_a_search_by_name_does_not_bring_an_erased_person_back(demo: Services) -> None:
    found = demo.assembler.lookup(Identifiers(emails=(PAULINE,)))
    assert found.profile is not None
    person = found.profile.customer_id
    assert person in {c.customer_id for c in demo.search.search("Denève")}  # before: found
    forget(Identifiers(emails=(PAULINE,)), demo.assembler, demo.writebacks,
           written_to(demo.manifest.helpdesks.adapters), demo.manifest.sources, "dpo",
           suppress=True)
    shown = demo.search.search("Denève")
    assert person not in {c.customer_id for c in shown}
    assert not any((c.name or "").startswith("Pauline") for c in shown)
    store = demo.assembler.resolver.store
    assert store.search_people("deneve") == [] and store.people([person])[0].display_name is None


def test_a_known_person_s_lookup_reads_no_suppression_list(demo: Services) -> None:
    engine = demo.assembler.resolver.store.engine
    asked: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        asked.append(statement)

    demo.assembler.lookup(Identifiers(emails=(PAULINE,)))  # now linked
    event.listen(engine, "before_cursor_execute", seen)
    try:
        demo.assembler.lookup(Identifiers(emails=(PAULINE,)))
        known = [s for s in asked if "suppressed_identifiers" in s]
        demo.assembler.lookup(Identifiers(emails=("nobody.yet@example.fr",)))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert known == []  # a linked identifier cannot be suppressed: nothing to ask
    assert any("suppressed_identifiers" in s for s in asked)  # one nobody holds is looked for
