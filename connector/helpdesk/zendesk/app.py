"""The Zendesk app package (ZAF v2) for this manifest: a private server-side app whose ticket
and user sidebars load our `/helpdesk/zendesk/sidebar` with signed URLs.

The zip holds `manifest.json`, `translations/en.json` and `fr.json`, and `assets/logo.png`
(320×320) and `assets/logo-small.png` (128×128, PNG-24 with transparency), as the apps
documentation asks ("Manifest reference", "Styles and assets"). Zendesk validates a package
only on upload (`zcli apps:validate` needs an account), so `check_package` applies the same
rules here first, from the files as zipped: the required keys, their types, the known
locations, location URLs that are absolute https, the parameters, the default locale's
translation file and the logos' sizes.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connector.config import Brand
from connector.helpdesk.png import png, png_problem
from connector.helpdesk.zendesk.config import Config
from connector.i18n import texts_for

SIDEBAR_PATH = "/helpdesk/zendesk/sidebar"
FRAMEWORK_VERSION = "2.0"
LOCALES = ("en", "fr")
LOGOS = {"assets/logo.png": 320, "assets/logo-small.png": 128}
SUPPORT_LOCATIONS = frozenset({
    "top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar", "user_sidebar",
    "organization_sidebar", "background", "modal", "ticket_editor", "system_top_bar",
    "ticket_module"})
PARAMETER_TYPES = frozenset({"text", "password", "checkbox", "url", "number", "multiline",
                             "hidden"})
VALID_LOCALE = re.compile(r"^[a-z]{2}(-\w{2,3})?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Optional: a secure setting Zendesk substitutes in `client.request({secure: true})` and never
# shows to the browser, for scripts calling our API through Zendesk's proxy. The sidebar page
# itself is authorised by the signed URL and does not use it.
PARAMETERS: tuple[dict[str, Any], ...] = (
    {"name": "connector_api_token", "type": "text", "secure": True, "required": False},
)
HINTS = {  # what the admin changes when a check fails (prefix of the error → the setting)
    "manifest.json: author.email": "set helpdesks.zendesk.app_author_email, the address "
                                   "agents write to for support",
    "manifest.json: author.url": "set helpdesks.zendesk.app_author_url",
    "manifest.json: location": "set CONNECTOR_PUBLIC_URL or helpdesks.zendesk.app_url to the "
                               "https address Zendesk reaches this service at",
}


class AppPackageError(Exception):
    """The package would be refused by Zendesk: every reason, one a line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def package_files(brand: Brand, config: Config, public_url: str,
                  version: str) -> dict[str, bytes]:
    """The package's files (path → bytes) for this brand and Zendesk entry."""
    base = (config.app_url or public_url).rstrip("/")
    name = config.app_name or f"{brand.name} sidebar"[:40]
    author = {"name": brand.name, "email": config.app_author_email,
              "url": config.app_author_url or base}
    app = {
        "name": name, "author": {k: v for k, v in author.items() if v},
        "defaultLocale": brand.locale, "private": True,
        "location": {"support": {
            "ticket_sidebar": {"url": base + SIDEBAR_PATH, "flexible": True},
            "user_sidebar": {"url": base + SIDEBAR_PATH},
        }},
        "signedUrls": True, "version": version, "frameworkVersion": FRAMEWORK_VERSION,
        "parameters": [dict(p) for p in PARAMETERS],
    }
    files = {"manifest.json": _json(app)}
    for locale in LOCALES:
        text = texts_for("zendesk_app", locale)
        files[f"translations/{locale}.json"] = _json({"app": {
            "name": name, "short_description": text["short_description"],
            "long_description": text["long_description"],
            "installation_instructions": text["installation_instructions"],
            "parameters": {"connector_api_token": {"label": text["label"],
                                                   "helpText": text["help"]}},
        }})
    files["assets/logo.png"] = png(LOGOS["assets/logo.png"], _logo_pixel)
    files["assets/logo-small.png"] = png(LOGOS["assets/logo-small.png"], _logo_pixel)
    return files


def build_package(brand: Brand, config: Config, public_url: str,
                  out_dir: Path, version: str) -> Path:
    """Check the package, then write it as `connector-zendesk-<version>.zip` in out_dir;
    AppPackageError lists what Zendesk would refuse."""
    files = package_files(brand, config, public_url, version)
    errors = check_package(files)
    if errors:
        raise AppPackageError([_hinted(e) for e in errors])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"connector-zendesk-{version}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return path


def check_package(files: Mapping[str, bytes]) -> list[str]:
    """What Zendesk's validation would refuse in these files (empty: none)."""
    raw = files.get("manifest.json")
    if raw is None:
        return ["manifest.json: missing at the root of the package"]
    try:
        app = json.loads(raw)
    except ValueError as exc:
        return [f"manifest.json: not JSON ({exc})"]
    if not isinstance(app, dict):
        return ["manifest.json: not a JSON object"]
    errors = [*_check_keys(app), *_check_locations(app), *_check_parameters(app)]
    errors += _check_translations(files, app)
    errors += [f"{path}: {problem}" for path, size in LOGOS.items()
               if (problem := png_problem(files.get(path), size))]
    return errors


def _check_keys(app: dict[str, Any]) -> list[str]:
    errors = [f"manifest.json: {key}: missing" for key in
              ("name", "author", "defaultLocale", "location", "version", "frameworkVersion")
              if key not in app]
    for key in ("name", "defaultLocale", "version", "frameworkVersion"):
        if key in app and not (isinstance(app[key], str) and app[key].strip()):
            errors.append(f"manifest.json: {key}: must be a non-empty string")
    for key in ("private", "signedUrls", "singleInstall"):
        if key in app and not isinstance(app[key], bool):
            errors.append(f"manifest.json: {key}: must be true or false")
    if app.get("frameworkVersion", FRAMEWORK_VERSION) != FRAMEWORK_VERSION:
        errors.append(f"manifest.json: frameworkVersion: must be {FRAMEWORK_VERSION!r}")
    if app.get("signedUrls") is not True:
        errors.append("manifest.json: signedUrls: must be true (the sidebar trusts only "
                      "Zendesk's signed first request)")
    if "author" not in app:
        return errors
    author = app["author"]
    if not isinstance(author, dict):
        return [*errors, "manifest.json: author: must be an object with name, email, url"]
    for key in ("name", "email", "url"):
        value = author.get(key)
        if not (isinstance(value, str) and value.strip()):
            errors.append(f"manifest.json: author.{key}: missing")
        elif key == "email" and not EMAIL.match(value):
            errors.append(f"manifest.json: author.email: not an email address: {value!r}")
        elif key == "url" and not re.match(r"^https?://[^\s/]+", value):
            errors.append(f"manifest.json: author.url: not an absolute URL: {value!r}")
    return errors


def _check_locations(app: dict[str, Any]) -> list[str]:
    location = app.get("location")
    if location is None:
        return []
    support = location.get("support") if isinstance(location, dict) else None
    if not isinstance(support, dict) or not support:
        return ["manifest.json: location.support: must name at least one location"]
    errors = [f"manifest.json: location: unknown product {host!r} (this app is for support)"
              for host in location if host != "support"]
    for name, options in support.items():
        path = f"manifest.json: location.support.{name}"
        if name not in SUPPORT_LOCATIONS:
            errors.append(f"{path}: unknown location (one of: "
                          f"{', '.join(sorted(SUPPORT_LOCATIONS))})")
            continue
        url = options.get("url") if isinstance(options, dict) else options
        if not isinstance(url, str) or not url:
            errors.append(f"{path}.url: missing")
        elif not re.match(r"^https://[^\s/]+(/\S*)?$", url) and \
                not re.match(r"^https?://localhost(:\d+)?(/\S*)?$", url):
            errors.append(f"{path}.url: must be an absolute https URL, got {url!r}")
        if isinstance(options, dict) and not isinstance(options.get("flexible", False), bool):
            errors.append(f"{path}.flexible: must be true or false")
    return errors


def _check_parameters(app: dict[str, Any]) -> list[str]:
    parameters = app.get("parameters", [])
    if not isinstance(parameters, list):
        return ["manifest.json: parameters: must be an array"]
    errors: list[str] = []
    names = [p.get("name") for p in parameters if isinstance(p, dict)]
    if len(names) != len(parameters):
        errors.append("manifest.json: parameters: each must be an object with a name")
    for dup in sorted({str(n) for n in names if names.count(n) > 1}):
        errors.append(f"manifest.json: parameters.{dup}: defined twice")
    for parameter in (p for p in parameters if isinstance(p, dict)):
        path = f"manifest.json: parameters.{parameter.get('name')}"
        if not parameter.get("name") or parameter.get("name") == "name":
            errors.append(f"{path}: needs a name other than 'name'")
        if parameter.get("type", "text") not in PARAMETER_TYPES:
            errors.append(f"{path}.type: one of {', '.join(sorted(PARAMETER_TYPES))}")
        for flag in ("secure", "required"):
            if not isinstance(parameter.get(flag, False), bool):
                errors.append(f"{path}.{flag}: must be true or false")
        if parameter.get("type") == "hidden" and parameter.get("required"):
            errors.append(f"{path}: a hidden parameter cannot be required")
    return errors


def _check_translations(files: Mapping[str, bytes], app: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    default = app.get("defaultLocale")
    if isinstance(default, str) and not VALID_LOCALE.match(default):
        errors.append(f"manifest.json: defaultLocale: not a locale: {default!r}")
    elif isinstance(default, str) and f"translations/{default}.json" not in files:
        errors.append(f"translations/{default}.json: missing (the default locale's texts)")
    required = ("name",) if app.get("private") is True else (
        "name", "short_description", "long_description", "installation_instructions")
    for path in sorted(p for p in files if p.startswith("translations/")):
        locale = path.removeprefix("translations/").removesuffix(".json")
        if not (path.endswith(".json") and VALID_LOCALE.match(locale)):
            errors.append(f"{path}: not translations/<locale>.json")
            continue
        try:
            texts = json.loads(files[path])
        except ValueError:
            errors.append(f"{path}: not JSON")
            continue
        block = texts.get("app") if isinstance(texts, dict) else None
        missing = [k for k in required if not isinstance(block, dict) or not block.get(k)]
        if missing:
            errors.append(f"{path}: app.{', app.'.join(missing)}: missing")
    return errors


def _logo_pixel(x: float, y: float) -> tuple[int, int, int, int]:
    """The logo: a ticket (left) with the customer's card beside it (right), on teal."""
    teal, pale, white = (15, 92, 99, 255), (160, 205, 208, 255), (255, 255, 255, 255)

    def lined(left: float, right: float) -> bool:
        return left <= x <= right and any(abs(y - row) < 0.03 for row in (0.36, 0.50, 0.64))

    if 0.14 <= x <= 0.50 and 0.22 <= y <= 0.78:  # the ticket
        return teal if lined(0.20, 0.44) else pale
    if 0.56 <= x <= 0.86 and 0.16 <= y <= 0.84:  # the sidebar's card
        return teal if lined(0.62, 0.80) else white
    return teal


def _json(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


def _hinted(error: str) -> str:
    hint = next((h for prefix, h in HINTS.items() if error.startswith(prefix)), None)
    return f"{error} ({hint})" if hint else error
