"""The landmarks block: short notes agents keep on a customer, and the form to add one."""

from __future__ import annotations

from typing import Any

from connector.models import CustomerProfile
from connector.store.schema import NOTE_MAX
from connector.widgets.base import BlockSpec, RenderContext, date_text, render_template

SHOWN = 10


class NotesBlock:
    """What agents learnt about the person (a child who loves the chocolate mousse, a pastry
    diploma in preparation), shared across channels; a form when the page can post one."""

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
                               action=ctx.notes_url, token=ctx.token, max_length=NOTE_MAX,
                               more=max(0, len(profile.notes) - SHOWN))


def _shown(note: Any, ctx: RenderContext) -> dict[str, Any]:
    when = date_text(note.date.date() if note.date else None, ctx)
    byline = " · ".join(part for part in (note.author, when) if part)
    return {"id": note.id, "text": note.text, "byline": byline, "author": note.author}
