"""`marketing:` (where confirmed corrections are told) is checked when the manifest loads: an
https URL (plain http to this machine only), a secret from the environment, correctable
fields; every error with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.manifest import ManifestError, load_manifest

HEAD = """\
version: 1
sources:
  erp:
    type: rest
    base_url: https://erp.example.com
    requests: [{name: c, path: /c, params: {email: "{email}"}}]
    sections: {identity: {path: c, fields: {last_name: name}}}
"""
ENV = {"MARKETING_WEBHOOK_SECRET": "s3cret"}
EMPTY = ("marketing.secret: must not be empty: deliveries are signed with it (set it from the "
         "environment: secret: \"${MARKETING_WEBHOOK_SECRET}\")")
URL = "marketing.url: must be an https:// URL (plain http:// only to 127.0.0.1 or localhost)"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, HEAD + text), env=ENV if env is None else env)
    return caught.value.errors


def test_a_sink_is_kept_with_its_defaults(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, HEAD + """\
marketing:
  url: https://hooks.example.com/connector
  secret: "${MARKETING_WEBHOOK_SECRET}"
"""), env=ENV)
    sink = manifest.marketing
    assert sink is not None
    assert (sink.url, sink.secret.get_secret_value(), sink.fields, sink.timeout_s,
            sink.enabled) == ("https://hooks.example.com/connector", "s3cret",
                              ["identity.emails", "identity.phones", "identity.address"],
                              5.0, True)
    assert "s3cret" not in repr(sink)
    assert load_manifest(write(tmp_path, HEAD), env={}).marketing is None


def test_plain_http_goes_to_this_machine_only(tmp_path: Path) -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://localhost/hook"):
        manifest = load_manifest(write(tmp_path, HEAD + f"""\
marketing: {{url: "{url}", secret: "${{MARKETING_WEBHOOK_SECRET}}", fields: [identity.phones],
            timeout_s: 0.5, enabled: false}}
"""), env=ENV)
        assert manifest.marketing is not None and manifest.marketing.url == url
        assert (manifest.marketing.fields, manifest.marketing.enabled) == (
            ["identity.phones"], False)
    for url in ("http://hooks.example.com/x", "http://127.0.0.1.example.com/x",
                "ftp://hooks.example.com", "hooks.example.com"):
        assert errors_of(tmp_path, f"marketing: {{url: '{url}', secret: s}}\n") == [URL]


def test_a_sink_without_its_secret_is_refused(tmp_path: Path) -> None:
    assert errors_of(tmp_path, "marketing: {url: 'https://h.example.com'}\n") == [
        "marketing.secret: required"]
    assert errors_of(tmp_path, "marketing:\n  url: https://h.example.com\n"
                               "  secret: ${MARKETING_WEBHOOK_SECRET}\n", env={}) == [
        "marketing.secret: environment variable MARKETING_WEBHOOK_SECRET is not set", EMPTY]
    assert errors_of(tmp_path, "marketing:\n  url: https://h.example.com\n"
                               "  secret: ${MARKETING_WEBHOOK_SECRET:-}\n", env={}) == [EMPTY]


def test_every_error_of_the_sink_has_its_path(tmp_path: Path) -> None:
    assert errors_of(tmp_path, """\
marketing:
  url: http://hooks.example.com
  secret: "${MARKETING_WEBHOOK_SECRET}"
  fields: [identity.emails, identity.birth_date]
  timeout_s: 0
  retries: 3
""") == [
        URL,
        "marketing.fields[1]: 'identity.birth_date' is not a field corrected from the record "
        "(one of: identity.emails, identity.phones, identity.address)",
        "marketing.timeout_s: input should be greater than 0",
        "marketing.retries: unknown key",
    ]
