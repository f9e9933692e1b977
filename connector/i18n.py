"""French and English texts and the locale-aware formatting of money, dates, ages and numbers."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"

BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
DATE_PATTERNS = {"fr": "dd/MM/yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS = {"fr": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy HH:mm"}

FR: dict[str, str] = {
    "page.title": "Fiche client",
    "page.unnamed": "Client sans nom",
    "page.switch": "EN",
    "page.switch_title": "Show in English",
    "page.empty": "Aucune donnée à afficher pour ce client.",
    "page.block_error": "Ce bloc n'a pas pu être affiché.",
    "search.title": "Rechercher un client",
    "search.label": "Nom, email, téléphone ou code postal",
    "search.placeholder": "ex. Denève 77184",
    "search.button": "Chercher",
    "search.none": "Aucun client ne correspond à « {query} ».",
    "block.notes": "Repères",
    "notes.add_label": "Un repère sur ce client, partagé avec toute l'équipe",
    "notes.placeholder": "ex. Son fils adore la mousse au chocolat",
    "notes.author": "Votre prénom",
    "notes.add": "Ajouter",
    "notes.delete": "Supprimer",
    "notes.delete_named": "Supprimer la note « {text} »",
    "notes.more": "+ {count} autres notes",
    "message.note_refused.title": "Note non enregistrée",
    "message.note_refused": "Revenez à la fiche et corrigez la note.",
    "message.ambiguous.title": "Plusieurs clients possibles",
    "message.ambiguous": "Ce contact correspond à {count} clients. Choisissez le bon : rien "
    "n'est deviné.",
    "message.candidate_unnamed": "Client sans nom",
    "identity.matched": "Reconnu par",
    "match.email": "email",
    "match.phone": "téléphone",
    "match.card": "carte",
    "match.handle": "compte social",
    "match.unconfirmed": "non confirmé par les sources",
    "message.not_found.title": "Client introuvable",
    "message.not_found": "Aucune fiche client ne correspond à ce contact.",
    # helpdesks' own pages (Zendesk's and Chatwoot's frames, the Zendesk app listing)
    "zendesk_page.title": 'Fiche client',
    "zendesk_page.loading": 'Recherche du client…',
    "zendesk_page.not_in_zendesk": (
        "Cette page ne fonctionne que dans Zendesk : ouvrez l'application "
        "depuis un ticket ou la fiche d'un utilisateur."
    ),
    "zendesk_page.sdk_missing": (
        "Le framework d'applications de Zendesk (SDK ZAF) ne s'est pas chargé : "
        'vérifiez que static.zdassets.com est joignable, puis rechargez les '
        'applications.'
    ),
    "zendesk_page.timeout": "Zendesk n'a pas répondu en 5 secondes : rechargez les applications.",
    "zendesk_page.expired": (
        'Cette session a expiré : rechargez les applications (⟳ en haut du '
        'panneau des applications).'
    ),
    "zendesk_page.failed": (
        "La fiche client n'a pas pu être ouverte : rechargez les applications, "
        'et prévenez votre administrateur si cela continue.'
    ),
    "chatwoot_page.title": 'Fiche client',
    "chatwoot_page.waiting": 'En attente de la conversation Chatwoot…',
    "chatwoot_page.loading": 'Recherche de la fiche client…',
    "chatwoot_page.failed": "La fiche client n'a pas pu être ouverte : rouvrez cet onglet.",
    "chatwoot_page.no_context": (
        "Chatwoot n'a pas transmis la conversation : rouvrez cet onglet depuis "
        'une conversation.'
    ),
    "chatwoot_page.outside": "Cette page s'ouvre dans Chatwoot, dans l'onglet d'une conversation.",
    "zendesk_app.short_description": (
        'Le client derrière le ticket : commandes, achats en magasin, avis et '
        'fidélité, en direct.'
    ),
    "zendesk_app.long_description": (
        'Affiche la fiche du demandeur, tirée des systèmes de la marque, à côté '
        'de chaque ticket et utilisateur.'
    ),
    "zendesk_app.installation_instructions": (
        "Installez l'app, puis réglez le webhook et l'API comme l'indique "
        'docs/helpdesks/zendesk.md.'
    ),
    "zendesk_app.label": "Jeton de l'API du connecteur (facultatif)",
    "zendesk_app.help": "Seulement pour des scripts appelant l'API du connecteur via Zendesk.",
    # helpdesk fragments
    "fragment.open": "Ouvrir la fiche complète",
    "fragment.ambiguous": "Plusieurs clients partagent ce contact : ouvrez la fiche pour choisir.",
    "fragment.no_identifier": "Ce ticket n'a ni email ni téléphone : ouvrez la recherche.",
    "message.sources_down": "Sources indisponibles : {names}. Le client y est peut-être connu.",
    "message.unauthorized.title": "Lien expiré ou invalide",
    "message.unauthorized": "Rouvrez le ticket pour charger à nouveau la fiche client.",
    "message.link_expired.title": "Fiche à recharger",
    "message.link_expired": "Cette fiche n'est plus à jour : rechargez-la (rouvrez le ticket, "
    "ou rechargez l'application).",
    "message.unknown_helpdesk.title": "Helpdesk inconnu",
    "message.unknown_helpdesk": "Aucun helpdesk « {kind} » n'est configuré.",
    "block.identity": "Identité",
    "block.badges": "Statut",
    "block.kpis": "Activité",
    "block.orders": "Commandes",
    "block.freshness": "Sources",
    "block.sentiment": "Ressenti",
    "block.contacts": "Contacts",
    "block.reviews": "Avis",
    "block.loyalty": "Fidélité",
    "block.campaigns": "Campagnes reçues",
    "sentiment.satisfaction": "Satisfaction",
    "sentiment.trend": "Tendance",
    "sentiment.trend_label": "Évolution de la satisfaction sur 10 : {values}",
    "sentiment.nps": "NPS",
    "sentiment.nps_title": "NPS : note de 0 à 10 ; 0–6 détracteur, 7–8 passif, 9–10 promoteur",
    "sentiment.answered": "réponse du {date}",
    "sentiment.ces": "Effort (CES)",
    "sentiment.ces_title": "Effort ressenti, de 1 (faible) à 5 (élevé) : plus bas, c'est mieux",
    "mood.very_satisfied": "Très satisfait",
    "mood.satisfied": "Satisfait",
    "mood.dissatisfied": "Insatisfait",
    "mood.very_dissatisfied": "Très insatisfait",
    "trend.up": "en hausse",
    "trend.down": "en baisse",
    "trend.flat": "stable",
    "nps.promoter": "Promoteur",
    "nps.passive": "Passif",
    "nps.detractor": "Détracteur",
    "review.rating_title": "Note : {rating} sur {max}",
    "review.read": "Lire l'avis",
    "review.open": "Voir l'avis en ligne",
    "review.recent_negative": "Négatif récent",
    "review.more.one": "+ {count} autre avis",
    "review.more.other": "+ {count} autres avis",
    "contacts.count": "Nombre",
    "contacts.channels": "Canaux",
    "contacts.last": "Dernier contact",
    "contacts.repeat_rate": "Réitération",
    "contacts.repeat_title": "Part des contacts survenus moins de {days} jours après le "
    "précédent",
    "channel.other": "Autre",
    "loyalty.card": "N° de carte",
    "loyalty.points": "Points",
    "loyalty.tier": "Palier",
    "loyalty.vouchers_used": "Bons utilisés",
    "campaigns.more.one": "+ {count} autre campagne",
    "campaigns.more.other": "+ {count} autres campagnes",
    "orders.details": "Détails",
    "detail.loading": "Chargement…",
    "detail.failed": "Le détail n'a pas pu être chargé.",
    "detail.expired": "Cette fiche n'est plus à jour : rechargez-la.",
    "detail.fetched": "lu à",
    "identity.name": "Nom complet",
    "identity.birth_date": "Date de naissance",
    "identity.email": "Email principal",
    "identity.mobile": "Mobile",
    "identity.phone": "Téléphone",
    "identity.address": "Adresse",
    "identity.customer_since": "Client depuis",
    "identity.home_store": "Magasin",
    "civility.mr": "M.",
    "civility.mrs": "Mme",
    "civility.miss": "Mlle",
    "civility.ms": "Mme",
    "badge.segment": "Segment marketing",
    "badge.lifecycle": "Cycle de vie",
    "badge.abc": "Classe {value}",
    "badge.abc_title": "Matrice ABC (chiffre d'affaires)",
    "badge.tag": "Étiquette",
    "badge.flags": "Alertes",
    "badge.flag_since": "{reason} (depuis le {date})",
    "lifecycle.suspect": "Suspect",
    "lifecycle.prospect": "Prospect",
    "lifecycle.new": "Nouveau client",
    "lifecycle.active": "Actif",
    "lifecycle.dormant": "Inactif",
    "lifecycle.lost": "Perdu",
    "kpi.total_spend": "Total achats",
    "kpi.average_basket": "Panier moyen",
    "kpi.last_order": "Dernière commande",
    "kpi.orders_count": "Commandes",
    "kpi.satisfaction": "Satisfaction /10",
    "kpi.last_request": "Dernière demande",
    "channel.web": "Web",
    "channel.app": "Application",
    "channel.phone": "Téléphone",
    "channel.store": "Magasin",
    "channel.email": "Email",
    "channel.chat": "Chat",
    "channel.facebook": "Facebook",
    "channel.instagram": "Instagram",
    "channel.social": "Réseaux sociaux",
    "channel_abbr.web": "Web",
    "channel_abbr.app": "App",
    "channel_abbr.phone": "Tél",
    "channel_abbr.store": "Mag",
    "channel_abbr.email": "Mail",
    "channel_abbr.chat": "Chat",
    "orders.channel": "Canal",
    "orders.number": "N° commande",
    "orders.status": "Statut",
    "orders.date": "Date",
    "orders.tracking": "N° suivi / magasin",
    "orders.total": "Total TTC",
    "orders.more.one": "+ {count} autre commande",
    "orders.more.other": "+ {count} autres commandes",
    "order_status.delivered": "Livrée",
    "order_status.shipped": "Expédiée",
    "order_status.returned": "Retournée",
    "order_status.cancelled": "Annulée",
    "order_status.processing": "En cours",
    "order_status.quotation": "Devis",
    "source.ok": "à jour",
    "source.stale": "copie ancienne",
    "source.error": "indisponible",
    "source.timeout": "délai dépassé",
    "source.not_found": "pas de fiche",
    "source.circuit_open": "en pause après des erreurs",
    "age.now": "à l'instant",
    "age.minutes": "il y a {n} min",
    "age.hours": "il y a {n} h",
    "age.days": "il y a {n} j",
    # complaints and freshness
    "block.complaints": "Réclamations",
    "complaint.resolved": "Résolue",
    "complaint.resolved_on": "Résolue le {date}",
    "complaint.resolution": "Geste ou solution apportée",
    "complaint.reply_title": "Objectif : première réponse sous {hours} h",
    "complaint.reply_met": "1re réponse en {delay}",
    "complaint.reply_late": "1re réponse en {delay}, au-delà de {hours} h",
    "complaint.no_reply": "Sans réponse après {hours} h",
    "complaint.awaiting": "En attente de 1re réponse",
    "complaint.delay_minutes": "{n} min",
    "complaint.delay_hours": "{n} h",
    "complaint.delay_days": "{n} j",
    "complaint.more.one": "+ {count} autre réclamation",
    "complaint.more.other": "+ {count} autres réclamations",
    "complaint_status.open": "Ouverte",
    "complaint_status.pending": "En attente",
    "complaint_status.resolved": "Résolue",
    "complaint_status.closed": "Close",
    "complaint_status.solved": "Résolue",
    "freshness.source_state": "{name} : {status}",
    "notes.edit": "Modifier",
    "notes.edit_named": "Modifier la note « {text} »",
    "notes.edit_label": "Texte de la note",
    "notes.save": "Enregistrer",
    "demo.title": "Démo helpdesk",
    "demo.tickets": "Tickets",
    "demo.no_tickets": "Aucun ticket.",
    "demo.requester": "Demandeur",
    "demo.email": "Email",
    "demo.phone": "Téléphone",
    "demo.handle": "Compte social",
    "demo.received": "Reçu le",
    "demo.sidebar": "Fiche client",
    "demo.no_identifier": "Ce ticket ne porte ni email ni téléphone : le client ne peut pas "
    "être reconnu. Demandez-lui un identifiant.",
    "demo.switch": "EN",
    "demo.switch_title": "Show in English",
    # tabs and cards
    "block.tabs": "Dossier en bref",
    "tabs.requests": "Demandes",
    "tabs.orders": "Commandes",
    "tabs.store_purchases": "Achats magasin",
    "tabs.campaigns": "Campagnes",
    "tabs.exchanges": "Échanges",
    "tabs.exchanges_title": "Tous les échanges : demandes, campagnes reçues, avis et réponses "
    "aux enquêtes",
    "tabs.go_to": "{label} : {count}, aller à la liste",
    "card.yes": "Oui",
    "card.no": "Non",
}

EN: dict[str, str] = {
    "page.title": "Customer record",
    "page.unnamed": "Unnamed customer",
    "page.switch": "FR",
    "page.switch_title": "Afficher en français",
    "page.empty": "Nothing to show for this customer.",
    "page.block_error": "This block could not be shown.",
    "search.title": "Find a customer",
    "search.label": "Name, email, phone or postcode",
    "search.placeholder": "e.g. Denève 77184",
    "search.button": "Search",
    "search.none": "No customer matches “{query}”.",
    "block.notes": "Landmarks",
    "notes.add_label": "A landmark about this customer, shared with the whole team",
    "notes.placeholder": "e.g. Her son loves the chocolate mousse",
    "notes.author": "Your first name",
    "notes.add": "Add",
    "notes.delete": "Remove",
    "notes.delete_named": "Remove the note “{text}”",
    "notes.more": "+ {count} more notes",
    "message.note_refused.title": "Note not saved",
    "message.note_refused": "Go back to the record and correct the note.",
    "message.ambiguous.title": "Several possible customers",
    "message.ambiguous": "This contact matches {count} customers. Choose the right one: "
    "nothing is guessed.",
    "message.candidate_unnamed": "Unnamed customer",
    "identity.matched": "Recognised by",
    "match.email": "email",
    "match.phone": "phone",
    "match.card": "card",
    "match.handle": "social handle",
    "match.unconfirmed": "not confirmed by the sources",
    "message.not_found.title": "Customer not found",
    "message.not_found": "No customer record matches this contact.",
    # helpdesks' own pages (Zendesk's and Chatwoot's frames, the Zendesk app listing)
    "zendesk_page.title": 'Customer record',
    "zendesk_page.loading": 'Looking up the customer…',
    "zendesk_page.not_in_zendesk": (
        'This page works inside Zendesk only: open the app from a ticket or a '
        "user's profile."
    ),
    "zendesk_page.sdk_missing": (
        "Zendesk's app framework (ZAF SDK) did not load: check that "
        'static.zdassets.com is reachable, then reload the apps.'
    ),
    "zendesk_page.timeout": 'Zendesk did not answer within 5 seconds: reload the apps.',
    "zendesk_page.expired": (
        'This session has expired: reload the apps (⟳ at the top of the apps '
        'panel).'
    ),
    "zendesk_page.failed": (
        'The customer record could not be opened: reload the apps, and tell '
        'your administrator if it goes on.'
    ),
    "chatwoot_page.title": 'Customer record',
    "chatwoot_page.waiting": 'Waiting for the Chatwoot conversation…',
    "chatwoot_page.loading": 'Looking the customer up…',
    "chatwoot_page.failed": 'The customer record could not be opened: open this tab again.',
    "chatwoot_page.no_context": 'Chatwoot sent no conversation: open this tab from a conversation.',
    "chatwoot_page.outside": "This page opens inside Chatwoot, as a conversation's dashboard app.",
    "zendesk_app.short_description": (
        'The customer behind the ticket: orders, store purchases, reviews and '
        'loyalty, live.'
    ),
    "zendesk_app.long_description": (
        "Shows the requester's record from the brand's own systems beside every "
        "ticket and user, in the agent's language."
    ),
    "zendesk_app.installation_instructions": (
        'Install, then set the webhook and API settings described in '
        'docs/helpdesks/zendesk.md.'
    ),
    "zendesk_app.label": 'Connector API token (optional)',
    "zendesk_app.help": "Only for scripts calling the connector's API through Zendesk.",
    # helpdesk fragments
    "fragment.open": "Open the full record",
    "fragment.ambiguous": "Several customers share this contact: open the record to choose.",
    "fragment.no_identifier": "This ticket has no email or phone: open the search.",
    "message.sources_down": "Sources unavailable: {names}. The customer may be known there.",
    "message.unauthorized.title": "Link expired or invalid",
    "message.unauthorized": "Reopen the ticket to load the customer record again.",
    "message.link_expired.title": "Record out of date",
    "message.link_expired": "This record is out of date: reload it (reopen the ticket, or "
    "reload the app).",
    "message.unknown_helpdesk.title": "Unknown helpdesk",
    "message.unknown_helpdesk": "No helpdesk “{kind}” is configured.",
    "block.identity": "Identity",
    "block.badges": "Status",
    "block.kpis": "Activity",
    "block.orders": "Orders",
    "block.freshness": "Sources",
    "block.sentiment": "Sentiment",
    "block.contacts": "Contacts",
    "block.reviews": "Reviews",
    "block.loyalty": "Loyalty",
    "block.campaigns": "Campaigns received",
    "sentiment.satisfaction": "Satisfaction",
    "sentiment.trend": "Trend",
    "sentiment.trend_label": "Satisfaction out of 10 over time: {values}",
    "sentiment.nps": "NPS",
    "sentiment.nps_title": "NPS: score 0 to 10; 0–6 detractor, 7–8 passive, 9–10 promoter",
    "sentiment.answered": "answered {date}",
    "sentiment.ces": "Effort (CES)",
    "sentiment.ces_title": "Customer effort, from 1 (low) to 5 (high): lower is better",
    "mood.very_satisfied": "Very satisfied",
    "mood.satisfied": "Satisfied",
    "mood.dissatisfied": "Dissatisfied",
    "mood.very_dissatisfied": "Very dissatisfied",
    "trend.up": "rising",
    "trend.down": "falling",
    "trend.flat": "steady",
    "nps.promoter": "Promoter",
    "nps.passive": "Passive",
    "nps.detractor": "Detractor",
    "review.rating_title": "Rating: {rating} out of {max}",
    "review.read": "Read the review",
    "review.open": "View the review online",
    "review.recent_negative": "Recent negative",
    "review.more.one": "+{count} more review",
    "review.more.other": "+{count} more reviews",
    "contacts.count": "Count",
    "contacts.channels": "Channels",
    "contacts.last": "Last contact",
    "contacts.repeat_rate": "Repeat rate",
    "contacts.repeat_title": "Share of contacts that came within {days} days of the previous "
    "one",
    "channel.other": "Other",
    "loyalty.card": "Card no.",
    "loyalty.points": "Points",
    "loyalty.tier": "Tier",
    "loyalty.vouchers_used": "Vouchers used",
    "campaigns.more.one": "+{count} more campaign",
    "campaigns.more.other": "+{count} more campaigns",
    "orders.details": "Details",
    "detail.loading": "Loading…",
    "detail.failed": "The detail could not be loaded.",
    "detail.expired": "This record is out of date: reload it.",
    "detail.fetched": "read at",
    "identity.name": "Full name",
    "identity.birth_date": "Date of birth",
    "identity.email": "Main email",
    "identity.mobile": "Mobile",
    "identity.phone": "Phone",
    "identity.address": "Address",
    "identity.customer_since": "Customer since",
    "identity.home_store": "Home store",
    "civility.mr": "Mr",
    "civility.mrs": "Mrs",
    "civility.miss": "Miss",
    "civility.ms": "Ms",
    "badge.segment": "Marketing segment",
    "badge.lifecycle": "Lifecycle stage",
    "badge.abc": "Class {value}",
    "badge.abc_title": "ABC matrix (revenue)",
    "badge.tag": "Tag",
    "badge.flags": "Alerts",
    "badge.flag_since": "{reason} (since {date})",
    "lifecycle.suspect": "Suspect",
    "lifecycle.prospect": "Prospect",
    "lifecycle.new": "New customer",
    "lifecycle.active": "Active",
    "lifecycle.dormant": "Dormant",
    "lifecycle.lost": "Lost",
    "kpi.total_spend": "Total spend",
    "kpi.average_basket": "Average basket",
    "kpi.last_order": "Last order",
    "kpi.orders_count": "Orders",
    "kpi.satisfaction": "Satisfaction /10",
    "kpi.last_request": "Last request",
    "channel.web": "Web",
    "channel.app": "App",
    "channel.phone": "Phone",
    "channel.store": "Store",
    "channel.email": "Email",
    "channel.chat": "Chat",
    "channel.facebook": "Facebook",
    "channel.instagram": "Instagram",
    "channel.social": "Social networks",
    "channel_abbr.web": "Web",
    "channel_abbr.app": "App",
    "channel_abbr.phone": "Tel",
    "channel_abbr.store": "Shop",
    "channel_abbr.email": "Mail",
    "channel_abbr.chat": "Chat",
    "orders.channel": "Channel",
    "orders.number": "Order no.",
    "orders.status": "Status",
    "orders.date": "Date",
    "orders.tracking": "Tracking / store",
    "orders.total": "Total incl. tax",
    "orders.more.one": "+{count} more order",
    "orders.more.other": "+{count} more orders",
    "order_status.delivered": "Delivered",
    "order_status.shipped": "Shipped",
    "order_status.returned": "Returned",
    "order_status.cancelled": "Cancelled",
    "order_status.processing": "Processing",
    "order_status.quotation": "Quotation",
    "source.ok": "up to date",
    "source.stale": "stale copy",
    "source.error": "unavailable",
    "source.timeout": "timed out",
    "source.not_found": "no record",
    "source.circuit_open": "paused after errors",
    "age.now": "just now",
    "age.minutes": "{n} min ago",
    "age.hours": "{n} h ago",
    "age.days": "{n} d ago",
    # complaints and freshness
    "block.complaints": "Complaints",
    "complaint.resolved": "Resolved",
    "complaint.resolved_on": "Resolved on {date}",
    "complaint.resolution": "What was done for the customer",
    "complaint.reply_title": "Target: first reply within {hours} h",
    "complaint.reply_met": "First reply in {delay}",
    "complaint.reply_late": "First reply in {delay}, over {hours} h",
    "complaint.no_reply": "No reply after {hours} h",
    "complaint.awaiting": "Awaiting first reply",
    "complaint.delay_minutes": "{n} min",
    "complaint.delay_hours": "{n} h",
    "complaint.delay_days": "{n} d",
    "complaint.more.one": "+{count} more complaint",
    "complaint.more.other": "+{count} more complaints",
    "complaint_status.open": "Open",
    "complaint_status.pending": "Pending",
    "complaint_status.resolved": "Resolved",
    "complaint_status.closed": "Closed",
    "complaint_status.solved": "Resolved",
    "freshness.source_state": "{name}: {status}",
    "notes.edit": "Edit",
    "notes.edit_named": "Edit the note “{text}”",
    "notes.edit_label": "Note text",
    "notes.save": "Save",
    "demo.title": "Helpdesk demo",
    "demo.tickets": "Tickets",
    "demo.no_tickets": "No tickets.",
    "demo.requester": "Requester",
    "demo.email": "Email",
    "demo.phone": "Phone",
    "demo.handle": "Social handle",
    "demo.received": "Received",
    "demo.sidebar": "Customer record",
    "demo.no_identifier": "This ticket carries no email or phone: the customer cannot be "
    "recognised. Ask them for an identifier.",
    "demo.switch": "FR",
    "demo.switch_title": "Afficher en français",
    # tabs and cards
    "block.tabs": "Record at a glance",
    "tabs.requests": "Requests",
    "tabs.orders": "Orders",
    "tabs.store_purchases": "Store purchases",
    "tabs.campaigns": "Campaigns",
    "tabs.exchanges": "Exchanges",
    "tabs.exchanges_title": "All exchanges: requests, campaigns received, reviews and survey "
    "answers",
    "tabs.go_to": "{label}: {count}, go to the list",
    "card.yes": "Yes",
    "card.no": "No",
}

CATALOGS: dict[str, dict[str, str]] = {"fr": FR, "en": EN}

# (upper bound in seconds, catalog key, divisor): the first bound above the age wins.
AGE_STEPS: tuple[tuple[float, str, int], ...] = (
    (60, "age.now", 1),
    (3600, "age.minutes", 60),
    (86400, "age.hours", 3600),
    (float("inf"), "age.days", 86400),
)


def normalize_locale(locale: str | None) -> str:
    """Return "fr" or "en" for a locale string such as "en", "en-GB" or "fr_FR" (default fr)."""
    short = (locale or "").replace("-", "_").split("_")[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


def babel_locale(locale: str | None) -> str:
    """Return the Babel locale used for one of our locales ("fr" -> "fr_FR", "en" -> "en_GB")."""
    return BABEL_LOCALES[normalize_locale(locale)]


def text(key: str, locale: str, **params: object) -> str:
    """Return the UI text `key` in `locale`, with `{name}` placeholders filled from `params`."""
    template = CATALOGS[normalize_locale(locale)][key]
    return template.format(**params) if params else template


def has_text(key: str, locale: str) -> bool:
    """Tell whether the catalog of `locale` holds `key` (for values translated when known)."""
    return key in CATALOGS[normalize_locale(locale)]


def plural_text(key: str, count: int, locale: str, **params: object) -> str:
    """Return the "one" or "other" form of `key` for `count` (keys `key.one`, `key.other`)."""
    form = Locale.parse(babel_locale(locale)).plural_form(count)
    suffix = "one" if form == "one" else "other"
    return text(f"{key}.{suffix}", locale, count=format_number(count, locale), **params)


def texts_for(prefix: str, locale: str) -> dict[str, str]:
    """Return every text under `prefix.` in `locale`, keyed without the prefix (for templates)."""
    start = f"{prefix}."
    catalog = CATALOGS[normalize_locale(locale)]
    return {key[len(start) :]: value for key, value in catalog.items() if key.startswith(start)}


def format_money(value: Decimal, currency: str, locale: str) -> str:
    """Format an amount: fr "1 464,00 €", en "€1,464.00" (Babel's no-break spaces kept)."""
    return format_currency(value, currency, locale=babel_locale(locale))


def format_number(value: Decimal | float | int, locale: str) -> str:
    """Format a number with the locale's decimal sign: fr "8,5", en "8.5"."""
    return format_decimal(value, locale=babel_locale(locale))


def format_share(value: Decimal | float, locale: str) -> str:
    """Format a share of 1 as a percentage: fr "13 %", en "13%"."""
    return format_percent(value, locale=babel_locale(locale))


def format_date(value: date, locale: str) -> str:
    """Format a day: fr "05/08/2017", en "5 Aug 2017"."""
    short = normalize_locale(locale)
    return babel_format_date(value, DATE_PATTERNS[short], locale=BABEL_LOCALES[short])


def format_datetime(value: datetime, locale: str, *, tz: tzinfo | None = None) -> str:
    """Format a moment: fr "23/02/2019 17:54", en "23 Feb 2019 17:54", in `tz` when given.

    Without `tz` an aware moment is shown in its own zone, never the server's.
    """
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    short = normalize_locale(locale)
    naive = value.replace(tzinfo=None)
    return babel_format_datetime(naive, DATETIME_PATTERNS[short], locale=BABEL_LOCALES[short])


def format_age(seconds: float, locale: str) -> str:
    """Say how old a value is: "à l'instant", "il y a 3 min", "il y a 2 h", "il y a 4 j"."""
    seconds = max(seconds, 0.0)
    for bound, key, divisor in AGE_STEPS:
        if seconds < bound:
            return text(key, locale, n=int(seconds // divisor))
    raise AssertionError("unreachable: the last age step is unbounded")


def territory_name(code: str, locale: str) -> str:
    """Return a country's name for an ISO code ("FR" -> "France"); other values unchanged."""
    territories = Locale.parse(babel_locale(locale)).territories
    return str(territories.get(code.strip().upper(), code))
