"""The Freshdesk app package (FDK, platform 3.0): built from our templates, checked against the
documented structure by our own validator (every problem listed), its script parsed by Node,
and `fdk validate` run where Freshworks' CLI is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from connector.helpdesk.freshdesk.app import (
    SIDEBAR_PATH,
    TEMPLATE_NAME,
    PackageError,
    build_package,
    validate_package,
)
from connector.widgets.base import STYLESHEET
from tests.conftest import connector

FILES = ["app/index.html", "app/scripts/app.js", "app/styles/images/icon.svg",
         "app/styles/record.css", "app/styles/style.css", "config/iparams.json",
         "config/requests.json", "manifest.json"]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    build_package(tmp_path / "app", "https://connector.example.com", stylesheet=STYLESHEET)
    return tmp_path / "app"


def read(root: Path, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((root / name).read_text())


def write(root: Path, name: str, document: object) -> None:
    (root / name).write_text(json.dumps(document))


def test_the_package_has_the_documented_structure(package: Path) -> None:
    found = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())
    assert found == FILES
    manifest = read(package, "manifest.json")
    assert manifest["platform-version"] == "3.0"
    assert manifest["modules"]["support_ticket"]["location"]["ticket_sidebar"] == {
        "url": "index.html", "icon": "styles/images/icon.svg"}
    assert manifest["modules"]["common"]["requests"] == {TEMPLATE_NAME: {}}
    assert set(manifest["engines"]) == {"node", "fdk"}
    schema = read(package, "config/requests.json")[TEMPLATE_NAME]["schema"]
    assert schema == {"protocol": "https", "method": "POST",
                      "host": "<%= iparam.connector_host %>", "path": SIDEBAR_PATH,
                      "headers": {"Authorization": "Bearer <%= iparam.app_token %>",
                                  "Content-Type": "application/json"}}
    params = read(package, "config/iparams.json")
    assert params["app_token"]["secure"] is True
    assert params["connector_host"]["default_value"] == "connector.example.com"
    assert not params["connector_host"].get("secure")  # a host may only use plain iparams
    assert (package / "app/styles/record.css").read_text() == STYLESHEET.read_text()
    assert validate_package(package) == []


def test_the_page_loads_the_fdk_client_and_frames_no_script(package: Path) -> None:
    page = (package / "app/index.html").read_text()
    assert '<script src="{{{appclient}}}"></script>' in page
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in page
    script = (package / "app/scripts/app.js").read_text()
    for call in ("app.initialized()", 'client.events.on("app.activated"',
                 'client.data.get("ticket")', 'client.data.get("contact")',
                 "client.request.invokeTemplate(TEMPLATE", "client.instance.resize("):
        assert call in script, call
    assert f'var TEMPLATE = "{TEMPLATE_NAME}"' in script


def test_a_server_under_a_path_keeps_its_prefix(tmp_path: Path) -> None:
    build_package(tmp_path, "https://tools.example.com/connector/", stylesheet=STYLESHEET)
    schema = read(tmp_path, "config/requests.json")[TEMPLATE_NAME]["schema"]
    assert schema["path"] == "/connector" + SIDEBAR_PATH
    assert read(tmp_path, "config/iparams.json")["connector_host"]["default_value"] == \
        "tools.example.com"


def test_an_unusable_server_url_is_refused_with_every_reason(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as caught:
        build_package(tmp_path, "http://127.0.0.1:8000", stylesheet=STYLESHEET)
    assert caught.value.errors == [
        "server URL http://127.0.0.1:8000: must be https (Freshworks apps call https only)",
        "server URL http://127.0.0.1:8000: needs a domain name, not an IP address",
        "server URL http://127.0.0.1:8000: a request template cannot name a port",
    ]
    assert not (tmp_path / "manifest.json").exists()


def test_missing_files_are_listed(package: Path) -> None:
    (package / "app/styles/images/icon.svg").unlink()
    (package / "app/scripts/app.js").unlink()
    (package / "config/requests.json").unlink()
    assert validate_package(package) == [
        "manifest.json: modules.support_ticket.location.ticket_sidebar.icon: "
        "file app/styles/images/icon.svg is missing",
        "app/index.html: scripts/app.js: file is missing",
        "config/requests.json: file is missing",
        "config/requests.json: connectorSidebar: declared in manifest.json but not defined",
    ]
    (package / "manifest.json").unlink()
    assert validate_package(package) == ["manifest.json: file is missing"]


def test_wrong_manifest_keys_are_listed(package: Path) -> None:
    write(package, "manifest.json", {
        "platform-version": "2.3", "product": {"freshdesk": {}},
        "modules": {"common": {"requests": {TEMPLATE_NAME: {}, "other": {}}}},
        "engines": {"node": "18"},
    })
    assert validate_package(package) == [
        'manifest.json: platform-version: must be "3.0"',
        "manifest.json: product: platform 2.x key, not allowed in 3.0",
        "manifest.json: modules: needs a product module besides common (support_ticket)",
        "manifest.json: engines.node: a version like 1.2.3 is required",
        "manifest.json: engines.fdk: a version like 1.2.3 is required",
        "manifest.json: modules.support_ticket.location.ticket_sidebar: missing",
        "config/requests.json: other: declared in manifest.json but not defined",
    ]


def test_wrong_request_templates_and_iparams_are_listed(package: Path) -> None:
    templates = read(package, "config/requests.json")
    schema = templates[TEMPLATE_NAME]["schema"]
    schema.update(protocol="http", host="https://10.0.0.1/x", method="SEND",
                  path="sidebar?token=<%= iparam.app_token %>")
    templates[TEMPLATE_NAME]["options"] = {"maxAttempts": 9, "retryDelay": 150}
    templates["stray"] = {"schema": {"method": "GET", "host": "example.com",
                                     "headers": {"X": "<%= iparam.nowhere %>"}}}
    write(package, "config/requests.json", templates)
    params = read(package, "config/iparams.json")
    params["app_token"]["type"] = "secret"
    params["connector_host"]["secure"] = "no"
    write(package, "config/iparams.json", params)
    assert validate_package(package) == [
        "manifest.json: modules.common.requests.stray: template not declared",
        "config/requests.json: connectorSidebar.schema.method: one of DELETE, GET, PATCH, "
        "POST, PUT",
        "config/requests.json: connectorSidebar.schema.protocol: must be https",
        "config/requests.json: connectorSidebar.schema.host: a domain name only (no protocol, "
        "path or IP)",
        "config/requests.json: connectorSidebar.schema.path: must start with /",
        "config/requests.json: connectorSidebar.schema.path: secure iparam.app_token may only "
        "be used in headers",
        "config/requests.json: connectorSidebar.options.maxAttempts: 1 to 5",
        "config/requests.json: connectorSidebar.options.retryDelay: a multiple of 100 up to "
        "1500",
        "config/requests.json: stray.schema.headers: iparam.nowhere is not in "
        "config/iparams.json",
        "config/iparams.json: connector_host.secure: true or false",
        "config/iparams.json: app_token.type: one of api_key, checkbox, date, domain, dropdown, "
        "email, multiselect, number, paragraph, phone_number, radio, text, url",
    ]


def test_a_page_without_the_fdk_client_is_refused(package: Path) -> None:
    page = package / "app/index.html"
    page.write_text(page.read_text().replace('<script src="{{{appclient}}}"></script>', ""))
    assert validate_package(package) == [
        'app/index.html: does not load the FDK client (<script src="{{{appclient}}}">)']


def test_the_command_writes_a_valid_package(tmp_path: Path, env: dict[str, str]) -> None:
    done = connector("freshdesk-app", "--out", str(tmp_path / "fd"), "--url",
                     "https://connector.example.com", env=env)
    assert done.returncode == 0, done.stderr
    assert "valid Freshdesk app (platform 3.0)" in done.stdout
    assert validate_package(tmp_path / "fd") == []
    refused = connector("freshdesk-app", "--out", str(tmp_path / "bad"),
                        env={**env, "CONNECTOR_PUBLIC_URL": "http://127.0.0.1:8000"})
    assert refused.returncode == 1
    assert "must be https" in refused.stdout


def test_the_apps_script_parses(package: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run([node, "--check", str(package / "app/scripts/app.js")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_fdk_validate_accepts_the_package(package: Path) -> None:
    """Freshworks' own validator, where its CLI is installed (it is distributed from
    Freshworks' CDN, not from the npm registry: `@freshworks/fdk` does not exist there and the
    npm package `fdk` is an unrelated one)."""
    fdk = shutil.which("fdk")
    if fdk is None:
        pytest.skip("Freshworks' fdk CLI is not installed (not available from the npm registry)")
    done = subprocess.run([fdk, "validate"], cwd=package, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
