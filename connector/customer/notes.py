"""Agents' landmarks: short notes on a customer ("son fils adore la mousse au chocolat"),
shared across channels and stores, length-limited, audited, erased with the customer."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, select, update

from connector.customer.links import LinkStore
from connector.models import Note
from connector.store.engine import audit_entry, reading
from connector.store.schema import NOTE_MAX, notes


class InvalidNote(ValueError):
    """A note that cannot be kept; the message says why."""


@dataclass(frozen=True)
class StoredNote:
    """A landmark an agent wrote about a person."""

    id: int
    customer_id: str
    text: str
    author: str
    updated_at: dt.datetime

    def as_note(self) -> Note:
        """The note as the canonical customer shows it."""
        return Note(id=self.id, text=self.text, author=self.author, date=self.updated_at)


CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # as spaces: no database keeps a NUL
AUTHOR_MAX = 80
# a person's landmarks, newest first (built once: on the hot path building costs more than
# running it)
NOTES_OF = select(notes).where(notes.c.customer_id == bindparam("customer")).order_by(
    notes.c.updated_at.desc(), notes.c.id.desc())


def note_text(raw: str | None) -> str:
    """A note's text, spaces (and control characters) folded; InvalidNote when empty or over
    NOTE_MAX characters."""
    text = " ".join(CONTROL.sub(" ", raw or "").split())
    if not text:
        raise InvalidNote("a note needs some text")
    if len(text) > NOTE_MAX:
        raise InvalidNote(f"a note is at most {NOTE_MAX} characters ({len(text)} given)")
    return text


class Notes:
    """The landmarks kept in the link store's database."""

    def __init__(self, store: LinkStore) -> None:
        self.engine = store.engine

    def of(self, customer_id: str) -> list[StoredNote]:
        """A person's landmarks, newest first."""
        with reading(self.engine) as connection:
            return [StoredNote(r.id, r.customer_id, r.text, r.author, r.updated_at)
                    for r in connection.execute(NOTES_OF, {"customer": customer_id})]

    def add(self, customer_id: str, raw: str | None, author: str) -> int:
        """Keep a landmark (raises InvalidNote); its id."""
        text = note_text(raw)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as connection:
            created = connection.execute(insert(notes).values(
                customer_id=customer_id, text=text, author=_author(author),
                created_at=now, updated_at=now))
            key = created.inserted_primary_key
            note_id = int(key[0]) if key else 0
            audit_entry(connection, _author(author), "note_add", customer_id, f"note {note_id}")
        return note_id

    def edit(self, customer_id: str, note_id: int, raw: str | None, author: str) -> bool:
        """Change a landmark's text (raises InvalidNote); False when there is no such note."""
        text = note_text(raw)
        if not is_note_id(note_id):
            return False
        with self.engine.begin() as connection:
            changed = connection.execute(update(notes).where(and_(
                notes.c.id == note_id, notes.c.customer_id == customer_id)).values(
                text=text, author=_author(author),
                updated_at=dt.datetime.now(dt.UTC))).rowcount
            if changed:
                audit_entry(connection, _author(author), "note_edit", customer_id,
                            f"note {note_id}")
        return bool(changed)

    def delete(self, customer_id: str, note_id: int, author: str) -> bool:
        """Remove a landmark; False when that person has no such note."""
        if not is_note_id(note_id):
            return False
        with self.engine.begin() as connection:
            gone = connection.execute(delete(notes).where(and_(
                notes.c.id == note_id, notes.c.customer_id == customer_id))).rowcount
            if gone:
                audit_entry(connection, _author(author), "note_delete", customer_id,
                            f"note {note_id}")
        return bool(gone)


def _author(raw: str) -> str:
    """Who wrote a note, as kept: spaces and control characters folded, at most 80
    characters."""
    return " ".join(CONTROL.sub(" ", raw).split())[:AUTHOR_MAX] or "agent"


def is_note_id(value: int) -> bool:
    """Whether a number can be a note's id (the column is a 32-bit integer: a larger one is no
    note, not a database error)."""
    return 0 < value < 2**31
