"""Landmarks in the store: audited without their text, erased with the person."""

from __future__ import annotations

import pytest

from connector.customer.links import LinkStore
from connector.customer.notes import InvalidNote, Notes


def test_notes_are_audited_without_their_text_and_erased_with_the_person() -> None:
    store = LinkStore("sqlite://")
    notes = Notes(store)
    note = notes.add("cus_1", "Sucré plutôt que salé", "Margaux")
    notes.add("cus_2", "Pointure 38", "Léa")
    assert [n.text for n in notes.of("cus_1")] == ["Sucré plutôt que salé"]
    assert notes.edit("cus_1", note, "Plutôt salé, en fait", "Margaux")
    assert not notes.edit("cus_2", note, "not hers", "Léa")  # another person's note id
    trail = store.audit_trail("cus_1")
    assert [e["action"] for e in trail] == ["note_add", "note_edit"]
    assert "salé" not in str(trail)
    store.forget("cus_1", actor="dpo")
    assert notes.of("cus_1") == [] and [n.text for n in notes.of("cus_2")] == ["Pointure 38"]


@pytest.mark.parametrize(("raw", "reason"), [("   ", "a note needs some text"),
                                             ("x" * 281, "a note is at most 280 characters "
                                                         "(281 given)")])
def test_notes_are_short_and_not_empty(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNote) as caught:
        Notes(LinkStore("sqlite://")).add("cus_1", raw, "Léa")
    assert str(caught.value) == reason
