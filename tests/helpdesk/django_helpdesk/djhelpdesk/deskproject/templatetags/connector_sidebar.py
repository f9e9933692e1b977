"""`{% connector_sidebar ticket %}`: the customer record of a ticket's submitter, framed from
our connector through a sealed link made here, at render time (no email in the URL).

Needs the `connector` package installed beside django-helpdesk, and the connector's
CONNECTOR_SECRET_KEY, link lifetime and region in settings (docs/helpdesks/django-helpdesk.md).
"""

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import get_language

from connector.helpdesk.embed import EmbedLinks
from connector.identifiers import InvalidIdentifier

register = template.Library()


@register.simple_tag
def connector_sidebar(ticket):
    """An iframe on the record of the ticket's submitter (nothing without an email)."""
    if not (settings.CONNECTOR_URL and settings.CONNECTOR_SECRET_KEY and ticket.submitter_email):
        return ""
    links = EmbedLinks(settings.CONNECTOR_SECRET_KEY.encode(), settings.CONNECTOR_LINK_TTL_S,
                       settings.CONNECTOR_REGION)
    try:
        token = links.token(email=ticket.submitter_email, ticket=str(ticket.id),
                            helpdesk="django_helpdesk")
    except InvalidIdentifier:
        return ""
    locale = "fr" if (get_language() or "").startswith("fr") else "en"
    return format_html(
        '<iframe class="connector-sidebar" title="Customer record" src="{}" '
        'style="width:100%;height:640px;border:0" referrerpolicy="no-referrer"></iframe>',
        links.url(settings.CONNECTOR_URL, token, locale))
