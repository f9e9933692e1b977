"""A source's `writes:` (the corrections it takes) is checked when the manifest loads: only
correctable fields, requests that compile and that send the new value."""

from __future__ import annotations

from pathlib import Path

from connector.manifest import load_manifest

from .test_cards import HEAD, errors_of, write

SOURCE = HEAD + "    writes:\n"


def test_a_valid_write_is_kept_with_its_request(tmp_path: Path) -> None:
    text = SOURCE + """\
      identity.emails:
        request: {name: set_email, method: PATCH, path: "/c/{external}", body: {email: "{new}"}}
"""
    manifest = load_manifest(write(tmp_path, text), env={})
    spec = manifest.sources["erp"].writes["identity.emails"]  # type: ignore[attr-defined]
    assert spec.request.method == "PATCH" and spec.request.body == {"email": "{new}"}


def test_each_error_of_a_write_has_its_path(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, SOURCE + """\
      identity.birth_date:
        request: {name: b, method: PATCH, path: "/c/{external}", body: {born: "{new}"}}
""")
    assert errors == ["sources.erp.writes: 'identity.birth_date' cannot be "
                      "corrected from the record (one of: identity.emails, identity.phones, "
                      "identity.address)"]
    errors = errors_of(tmp_path, SOURCE + """\
      identity.phones:
        request: {name: p, method: PATCH, path: "/c/{external}", body: {mobile: "{old[}"}}
""")
    assert errors == [
        "sources.erp.writes.identity.phones.request.body: invalid JMESPath expression 'old[' "
        "(Invalid jmespath expression: Incomplete expression:)",
        "sources.erp.writes.identity.phones.request: never uses {new} (or its parts, "
        "{new.line1}…), so the corrected value would not be sent (put it in the path, params "
        "or body)",
    ]


ACTIONS = HEAD + """\
    actions:
      open_return:
        label: {fr: Ouvrir un retour, en: Open a return}
        applies_to: orders
        key: numero
        when: "statuz == 'delivered'"
        inputs:
          reason: {label: Motif, kind: choice, choices: {late: En retard}}
        confirm: "Retour pour {key} : {inputs.motif} ?"
        request: {name: r, method: POST, path: "/o/{key}", body: {r: "{inputs.reason["}}
      resend:
        label: Renvoyer
        applies_to: customer
        key: number
        confirm: "Renvoyer ?"
        request: {name: v, method: POST, path: "/v/{external}"}
"""


def test_each_error_of_an_action_has_its_path(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, ACTIONS)
    assert errors == ["sources.erp.actions.resend: an action on orders, store purchases or "
                      "the loyalty account names their `key` field (key: number); one on the "
                      "customer has none"]
    fixed = ACTIONS.replace("        applies_to: customer\n        key: number\n",
                            "        applies_to: customer\n")
    assert errors_of(tmp_path, fixed) == [
        "sources.erp.actions.open_return.request.body: a brace that is not a placeholder's (an "
        "expression holding braces, or one left open): write {{ or }} for a literal brace",
        "sources.erp.actions.open_return.when: unknown name 'statuz'; known: agenda, also_in, "
        "back_office_url, campaigns, channel, consent, contacts, currency, customer, "
        "customer_id, date, documents, flags, identity, identity_checked, item, kpis, loyalty, "
        "matched, notes, number, orders, requests, reviews, sentiment, source, source_id, "
        "sources, status, store, store_purchases, surveys, today, total, tracking, unavailable",
        "sources.erp.actions.open_return.key: 'numero' is no field of orders (one of: channel, "
        "number, status, date, tracking, total, currency, back_office_url, store, source, "
        "also_in, source_id)",
        "sources.erp.actions.open_return.confirm: '{inputs.motif}' names nothing (give {key}, "
        "{number} on an order, or {inputs.<one of: reason>})",
    ]
