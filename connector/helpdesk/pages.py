"""The small pages helpdesk adapters serve themselves (Zendesk's and Chatwoot's frames around
the record): one autoescaping Jinja environment over `helpdesk/templates/`."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from connector.helpdesk.embed import record_frame_script


@cache
def environment() -> Environment:
    """Autoescaped; `tojson` makes values safe inside a <script>."""
    return Environment(loader=PackageLoader("connector.helpdesk", "templates"), autoescape=True,
                       undefined=StrictUndefined)


def render_page(name: str, **values: object) -> str:
    """A helpdesk page, with the shared script that keeps the record's link fresh."""
    return environment().get_template(name).render(
        record_frame=Markup(record_frame_script()), **values)
