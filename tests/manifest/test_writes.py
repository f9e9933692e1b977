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
                      "corrected from the record (one of: identity.emails, identity.phones)"]
    errors = errors_of(tmp_path, SOURCE + """\
      identity.phones:
        request: {name: p, method: PATCH, path: "/c/{external}", body: {mobile: "{old[}"}}
""")
    assert errors == [
        "sources.erp.writes.identity.phones.request.body: invalid JMESPath expression 'old[' "
        "(Invalid jmespath expression: Incomplete expression:)",
        "sources.erp.writes.identity.phones.request: never uses {new}, so the corrected value "
        "would not be sent (put it in the path, params or body)",
    ]
