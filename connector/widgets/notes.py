"""The landmarks block: short notes agents keep on a customer, and the form to add one."""

from __future__ import annotations

from typing import Any

from connector.models import CustomerProfile, Note
from connector.store.schema import NOTE_MAX
from connector.widgets.base import BlockSpec, RenderContext, date_text, render_template

SHOWN = 10


class NotesBlock:
    """What agents learnt about the person (a child who loves the chocolate mousse, a pastry
    diploma in preparation), shared across channels; a form when the page can post one.

    Each note has an "edit" button opening its own edit page instead of carrying its edit and
    delete forms, all the buttons in one GET form (`note_edit_action`) that carries the sealed
    link's token once: ten long notes stay a few KB of the first paint, and it all works
    without a script."""

    key = "notes"

    def render(self, profile: CustomerProfile, spec: BlockSpec, ctx: RenderContext) -> str | None:
        """Return the notes and the form, or None when there is neither; when the notes
        cannot be read (our database is down), the block says so, with no form."""
        if "notes" in profile.unavailable:
            return render_template("notes.html", ctx, block=self.key, notes=[], action=None,
                                   token=ctx.token, max_length=NOTE_MAX, more=0,
                                   store_unavailable=True)
        notes = [_shown(note, ctx) for note in profile.notes[:SHOWN]]
        if not notes and ctx.notes_url is None:
            return None
        return render_template("notes.html", ctx, block=self.key, notes=notes,
                               action=ctx.notes_url, edit=note_edit_action(ctx),
                               token=ctx.token, max_length=NOTE_MAX, agent=ctx.agent,
                               more=max(0, len(profile.notes) - SHOWN))


def note_edit_action(ctx: RenderContext) -> str | None:
    """Where the notes' "edit" buttons lead (`/helpdesk/embed/notes/edit`, their form adding
    `t`, `lang` and `note=7`), or None where the page posts no notes (an HTML fragment)."""
    return f"{ctx.notes_url}/edit" if ctx.notes_url is not None else None


def edit_values(note: Note, ctx: RenderContext) -> dict[str, Any]:
    """What a note's edit page shows: the note, who wrote it when, where its forms post."""
    return {"note": note, "byline": _byline(note, ctx), "action": ctx.notes_url,
            "token": ctx.token, "max_length": NOTE_MAX, "agent": ctx.agent}


def _byline(note: Note, ctx: RenderContext) -> str:
    when = date_text(note.date.date() if note.date else None, ctx)
    return " · ".join(part for part in (note.author, when) if part)


def _shown(note: Note, ctx: RenderContext) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "byline": _byline(note, ctx),
            "author": note.author}
