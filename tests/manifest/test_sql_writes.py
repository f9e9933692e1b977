"""A SQL source's `writes:` are checked when the manifest loads: only correctable fields, each
a single parameterised UPDATE, INSERT, DELETE (or CALL where the database has procedures)
that writes the new value and names only the parameters it is given; each error with its
path."""

from __future__ import annotations

from pathlib import Path

from connector.manifest import load_manifest
from connector.models import CORRECTABLE

from .test_cards import errors_of, write

HEAD = """\
version: 1
sources:
  crm:
    type: sql
    url: {url}
    lookup_by: [external, email]
    queries: {{c: "SELECT * FROM customers WHERE id = :external OR email = :email"}}
    id: "c[0].id"
    sections: {{identity: {{path: "c[0]", fields: {{last_name: name, emails: email}}}}}}
    writes:
"""
SQLITE = HEAD.format(url="sqlite:///crm.sqlite")
POSTGRES = HEAD.format(url="postgresql+psycopg://crm@db.example.com/crm")
GIVEN = (":new, :old, :external, :change, :new_line1, :new_postcode, :new_city, :new_country, "
         ":old_line1, :old_postcode, :old_city, :old_country")


def test_a_valid_write_is_kept_with_its_statement(tmp_path: Path) -> None:
    text = SQLITE + """\
      identity.emails:
        statement: |
          -- the address the customer signs in with; kept once per change
          UPDATE customers SET email = :new, changed_by = 'connector:' || :change
           WHERE id = :external AND COALESCE(email, '') = :old;
        roles: [supervisor]
      identity.address:
        statement: "UPDATE customers SET line1 = :new_line1, city = :new_city WHERE id = :external"
"""
    manifest = load_manifest(write(tmp_path, text), env={})
    spec = manifest.sources["crm"].writes["identity.emails"]  # type: ignore[attr-defined]
    assert spec.roles == ["supervisor"] and spec.statement.startswith("-- the address")


def test_each_bad_statement_is_refused_with_its_path(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, SQLITE + """\
      identity.emails:
        statement: "SELECT 1; UPDATE customers SET email = :new WHERE id = :id AND email = ':old'"
      identity.phones:
        statement: "UPDATE customers SET phone = :new::text WHERE id = :external"
""")
    assert errors == [
        "sources.crm.writes.identity.emails.statement: must be an UPDATE, INSERT, DELETE or "
        "CALL of a stored procedure; holds several statements (a `;` outside quotes): give "
        "one; ':old' is inside quotes or a comment: write the parameter bare (= :old), the "
        f"database quotes its value; unknown parameter :id (given: {GIVEN})",
        "sources.crm.writes.identity.phones.statement: a parameter cast with `::` is not read "
        "as one: write CAST(:new AS text); never uses :new, so the value would not be written",
    ]


def test_a_statement_that_never_writes_the_new_value_is_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, SQLITE + """\
      identity.emails:
        statement: "DELETE FROM customers WHERE id = :external AND email = :old"
""")
    assert errors == ["sources.crm.writes.identity.emails.statement: never uses :new, so "
                      "the value would not be written"]


def test_only_correctable_fields_given_as_they_come(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, SQLITE + """\
      identity.birth_date: {statement: "UPDATE customers SET born = :new WHERE id = :external"}
      identity.phones: {statement: "UPDATE customers SET phone = :new_city WHERE id = :external"}
      identity.address: {statement: "UPDATE customers SET city = :new WHERE id = :external"}
""")
    assert errors == [
        "sources.crm.writes: 'identity.birth_date' cannot be corrected from the record (one "
        f"of: {', '.join(CORRECTABLE)})"]
    errors = errors_of(tmp_path, SQLITE.replace("    writes:\n", "    writes:\n" + """\
      identity.phones: {statement: "UPDATE customers SET phone = :new_city WHERE id = :external"}
      identity.address: {statement: "UPDATE customers SET city = :new WHERE id = :external"}
"""))
    assert errors == [
        "sources.crm.writes: 'identity.phones' is one value: use :new and :old; "
        "'identity.address' is given part by part: use :new_line1, :new_postcode, :new_city, "
        ":new_country (and :old_…)"]


def test_a_stored_procedure_only_where_the_database_has_them(tmp_path: Path) -> None:
    call = """\
      identity.phones: {statement: "CALL crm.set_mobile(:external, :new, :change)"}
"""
    assert errors_of(tmp_path, SQLITE + call) == [
        "sources.crm.writes: 'identity.phones' calls a stored procedure: sqlite has none "
        "(write an UPDATE, INSERT or DELETE)"]
    manifest = load_manifest(write(tmp_path, POSTGRES + call), env={})
    assert "identity.phones" in manifest.sources["crm"].writes  # type: ignore[attr-defined]


def test_unknown_keys_of_a_write_are_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, SQLITE + """\
      identity.emails:
        request: {name: set_email, method: PATCH, path: "/c/{external}"}
""")
    assert errors == ["sources.crm.writes.identity.emails.statement: required",
                      "sources.crm.writes.identity.emails.request: unknown key"]
