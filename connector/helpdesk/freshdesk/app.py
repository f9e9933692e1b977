"""The Freshdesk app package (FDK, platform 3.0): a `ticket_sidebar` app that shows our record.

`build_package` writes the app's folder, then `validate_package` checks it against what the
FDK documents (required files and keys, request templates, installation parameters), listing
every problem: `fdk validate` needs Freshworks' CLI, which is not on the npm registry, so the
admin runs it before `fdk pack`; our own check catches a broken package first.

    manifest.json                 platform 3.0, support_ticket → ticket_sidebar, the template
    config/requests.json          `connectorSidebar`: POST to our server with the app token
    config/iparams.json           the server's host name and the app token (secure)
    app/index.html                the app page (FDK client from {{{appclient}}})
    app/scripts/app.js            data method → request template → the record's fragment
    app/styles/style.css, record.css (our sidebar's style), images/icon.svg
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TEMPLATES = Path(__file__).parent / "templates"
STATIC_FILES = ("app/index.html", "app/scripts/app.js", "app/styles/style.css",
                "app/styles/images/icon.svg")
TEMPLATE_NAME = "connectorSidebar"
SIDEBAR_PATH = "/helpdesk/freshdesk/sidebar"
NODE_VERSION, FDK_VERSION = "18.20.8", "9.7.4"
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
IPARAM_TYPES = {"text", "paragraph", "dropdown", "email", "phone_number", "number", "url",
                "radio", "checkbox", "multiselect", "date", "domain", "api_key"}
TEMPLATE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
IPARAM_USE = re.compile(r"<%=\s*(?:encode\()?\s*iparam\.([A-Za-z0-9_]+)")


class PackageError(ValueError):
    """The package cannot be built or is incomplete: every problem, one per line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("the Freshdesk app package is not valid:\n" +
                         "\n".join(f"- {e}" for e in errors))
        self.errors = errors


def build_package(out: Path, server_url: str, *, stylesheet: Path, node: str = NODE_VERSION,
                  fdk: str = FDK_VERSION) -> list[Path]:
    """Write the app's folder for our server at `server_url` (https, a host name), with the
    record's `stylesheet`; the files written. PackageError when the URL is unusable or the
    result does not validate."""
    host, prefix = _server(server_url)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in STATIC_FILES:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATES / name, target)
        written.append(target)
    shutil.copyfile(stylesheet, out / "app/styles/record.css")
    written.append(out / "app/styles/record.css")
    documents = {"manifest.json": manifest(node, fdk),
                 "config/requests.json": requests_json(prefix),
                 "config/iparams.json": iparams(host)}
    for name, document in documents.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        written.append(target)
    problems = validate_package(out)
    if problems:
        raise PackageError(problems)
    return written


def manifest(node: str = NODE_VERSION, fdk: str = FDK_VERSION) -> dict[str, Any]:
    """manifest.json: the ticket sidebar and the one request template it uses."""
    return {
        "platform-version": "3.0",
        "modules": {
            "common": {"requests": {TEMPLATE_NAME: {}}},
            "support_ticket": {"location": {"ticket_sidebar": {
                "url": "index.html", "icon": "styles/images/icon.svg"}}},
        },
        "engines": {"node": node, "fdk": fdk},
    }


def requests_json(prefix: str = "") -> dict[str, Any]:
    """config/requests.json: POST the contact's identifiers to our sidebar endpoint; the
    secure app token goes in a header (the only place secure iparams may go)."""
    return {TEMPLATE_NAME: {
        "schema": {
            "protocol": "https",
            "method": "POST",
            "host": "<%= iparam.connector_host %>",
            "path": prefix + SIDEBAR_PATH,
            "headers": {"Authorization": "Bearer <%= iparam.app_token %>",
                        "Content-Type": "application/json"},
        },
        "options": {"maxAttempts": 2, "retryDelay": 500},
    }}


def iparams(host: str) -> dict[str, Any]:
    """config/iparams.json: where our server is, and its token for this app (secure)."""
    return {
        "connector_host": {
            "display_name": "Connector server",
            "description": "Host name of the connector server, without https:// nor path "
                           "(e.g. connector.example.com)",
            "type": "text", "required": True, "default_value": host,
        },
        "app_token": {
            "display_name": "App token",
            "description": "The value of FRESHDESK_APP_TOKEN on the connector server",
            "type": "text", "required": True, "secure": True,
        },
    }


def validate_package(root: Path, allow_http: bool = False) -> list[str]:
    """Every problem of the app folder at `root`, as `file: key: what is wrong`."""
    document = _json_file(root, "manifest.json")
    if not isinstance(document, dict):
        return [document if isinstance(document, str) else "manifest.json: not a JSON object"]
    errors = _check_manifest(root, document)
    declared = set(_get(document, "modules", "common", "requests") or {})
    templates = _json_file(root, "config/requests.json") if declared else {}
    params = _json_file(root, "config/iparams.json") \
        if (root / "config/iparams.json").exists() else {}
    for found in (templates, params):
        if isinstance(found, str):
            errors.append(found)
    templates = templates if isinstance(templates, dict) else {}
    params = params if isinstance(params, dict) else {}
    errors += _check_requests(declared, templates, params, allow_http)
    errors += _check_iparams(params)
    return errors


def _check_manifest(root: Path, document: dict[str, Any]) -> list[str]:
    errors = []
    if document.get("platform-version") != "3.0":
        errors.append('manifest.json: platform-version: must be "3.0"')
    for legacy in ("product", "whitelisted-domains"):
        if legacy in document:
            errors.append(f"manifest.json: {legacy}: platform 2.x key, not allowed in 3.0")
    modules = document.get("modules")
    if not isinstance(modules, dict) or not [m for m in modules if m != "common"]:
        errors.append("manifest.json: modules: needs a product module besides common "
                      "(support_ticket)")
        modules = modules if isinstance(modules, dict) else {}
    for key in ("node", "fdk"):
        if not re.fullmatch(r"\d+\.\d+\.\d+", str(_get(document, "engines", key) or "")):
            errors.append(f"manifest.json: engines.{key}: a version like 1.2.3 is required")
    sidebar = _get(modules, "support_ticket", "location", "ticket_sidebar")
    if not isinstance(sidebar, dict):
        errors.append("manifest.json: modules.support_ticket.location.ticket_sidebar: missing")
    for module, entry in modules.items():
        for place, spec in (_get(entry, "location") or {}).items():
            errors += _check_location(root, f"modules.{module}.location.{place}", spec)
    return errors


def _check_location(root: Path, path: str, spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return [f"manifest.json: {path}: must be an object with url and icon"]
    errors = []
    for key in ("url", "icon"):
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            errors.append(f"manifest.json: {path}.{key}: missing")
        elif not (root / "app" / value).is_file():
            errors.append(f"manifest.json: {path}.{key}: file app/{value} is missing")
    if isinstance(spec.get("icon"), str) and not spec["icon"].endswith(".svg"):
        errors.append(f"manifest.json: {path}.icon: must be an SVG image")
    page = root / "app" / str(spec.get("url") or "")
    if page.is_file() and page.suffix == ".html":
        errors += _check_page(root, page)
    return errors


def _check_page(root: Path, page: Path) -> list[str]:
    """The page loads the FDK client, and every local script or style it names exists."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    errors = [] if "{{{appclient}}}" in text else \
        [f"{name}: does not load the FDK client (<script src=\"{{{{{{appclient}}}}}}\">)"]
    for ref in re.findall(r'(?:src|href)="([^"{:#]+)"', text):
        if not (page.parent / ref).is_file():
            errors.append(f"{name}: {ref}: file is missing")
    return errors


def _check_requests(declared: set[str], templates: dict[str, Any], params: dict[str, Any],
                    allow_http: bool) -> list[str]:
    errors = [f"config/requests.json: {n}: declared in manifest.json but not defined"
              for n in sorted(declared - set(templates))]
    errors += [f"manifest.json: modules.common.requests.{n}: template not declared"
               for n in sorted(set(templates) - declared)]
    for name, template in templates.items():
        where = f"config/requests.json: {name}"
        if not TEMPLATE_NAME_PATTERN.match(name):
            errors.append(f"{where}: name: letters, digits, _ and - only")
        schema = _get(template, "schema")
        if not isinstance(schema, dict):
            errors.append(f"{where}.schema: missing")
            continue
        errors += _check_schema(where, schema, params, allow_http)
        errors += _check_options(where, _get(template, "options") or {})
    return errors


def _check_schema(where: str, schema: dict[str, Any], params: dict[str, Any],
                  allow_http: bool) -> list[str]:
    errors = []
    if schema.get("method") not in METHODS:
        errors.append(f"{where}.schema.method: one of {', '.join(sorted(METHODS))}")
    protocols = {"https", "http"} if allow_http else {"https"}
    if "protocol" in schema and schema["protocol"] not in protocols:
        errors.append(f"{where}.schema.protocol: must be https")
    host = schema.get("host")
    if not isinstance(host, str) or not host:
        errors.append(f"{where}.schema.host: missing")
    elif "://" in host or "/" in host or _is_ip(host):
        errors.append(f"{where}.schema.host: a domain name only (no protocol, path or IP)")
    if not str(schema.get("path", "/")).startswith("/"):
        errors.append(f"{where}.schema.path: must start with /")
    for part in ("host", "path", "query", "headers"):
        text = json.dumps(schema.get(part, ""))
        for used in IPARAM_USE.findall(text):
            param = params.get(used)
            if not isinstance(param, dict):
                errors.append(f"{where}.schema.{part}: iparam.{used} is not in "
                              "config/iparams.json")
            elif param.get("secure") and part != "headers":
                errors.append(f"{where}.schema.{part}: secure iparam.{used} may only be "
                              "used in headers")
    return errors


def _check_options(where: str, options: dict[str, Any]) -> list[str]:
    errors = []
    attempts = options.get("maxAttempts", 1)
    if not isinstance(attempts, int) or not 1 <= attempts <= 5:
        errors.append(f"{where}.options.maxAttempts: 1 to 5")
    delay = options.get("retryDelay", 0)
    if not isinstance(delay, int) or delay % 100 or not 0 <= delay <= 1500:
        errors.append(f"{where}.options.retryDelay: a multiple of 100 up to 1500")
    return errors


def _check_iparams(params: dict[str, Any]) -> list[str]:
    errors = []
    for name, param in params.items():
        where = f"config/iparams.json: {name}"
        if not isinstance(param, dict):
            errors.append(f"{where}: must be an object")
            continue
        if not isinstance(param.get("display_name"), str):
            errors.append(f"{where}.display_name: missing")
        if param.get("type") not in IPARAM_TYPES:
            errors.append(f"{where}.type: one of {', '.join(sorted(IPARAM_TYPES))}")
        for flag in ("secure", "required"):
            if flag in param and not isinstance(param[flag], bool):
                errors.append(f"{where}.{flag}: true or false")
    return errors


def _server(url: str) -> tuple[str, str]:
    """(host, path prefix) of our public URL; PackageError unless https and a host name."""
    parts = urlsplit(url)
    errors = []
    if parts.scheme != "https":
        errors.append(f"server URL {url}: must be https (Freshworks apps call https only)")
    if not parts.hostname or _is_ip(parts.hostname) or "." not in parts.hostname:
        errors.append(f"server URL {url}: needs a domain name, not an IP address")
    if parts.port:
        errors.append(f"server URL {url}: a request template cannot name a port")
    if errors:
        raise PackageError(errors)
    return str(parts.hostname), parts.path.rstrip("/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _json_file(root: Path, name: str) -> Any:
    """The file's JSON, or the error saying why not."""
    path = root / name
    if not path.is_file():
        return f"{name}: file is missing"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return f"{name}: not valid JSON ({exc})"
