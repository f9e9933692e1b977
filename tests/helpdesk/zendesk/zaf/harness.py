"""What the Zendesk sidebar tests share: a test RSA key and the signed-URL JWTs Zendesk would
send, a manifest enabling zendesk, the real ZAF SDK bundled from its npm package, and a local
"Zendesk" parent page that frames our sidebar and answers the SDK's postMessage protocol."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ARTIFACTS, MANIFEST

HERE = Path(__file__).resolve().parent
SUBDOMAIN = "acme"
INSTALLATION = 360001
AUDIENCE = f"https://{SUBDOMAIN}.zendesk.com/api/v2/apps/installations/{INSTALLATION}.json"
APP_GUID = "7c3c5a3e-0d7a-4e5b-9d2a-3a4f0e6b1c2d"
# the npm package the issue names (its last release) and the bundler that builds it for a page
ZAF_SDK = "zendesk_app_framework_sdk@2.0.11"
ESBUILD = "esbuild@0.25.0"
SDK_CACHE = ARTIFACTS / "zaf-sdk"  # tests/artifacts is ignored by git: node_modules stays there


@cache
def private_key(name: str = "zendesk") -> rsa.RSAPrivateKey:
    """A test RSA key (one per name: `zendesk` is the configured one)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(name: str = "zendesk") -> str:
    """The PEM an admin pastes into ZENDESK_APP_PUBLIC_KEY."""
    return private_key(name).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed_url_token(key: str = "zendesk", *, now: float | None = None,
                     drop: tuple[str, ...] = (), **claims: Any) -> str:
    """The JWT Zendesk POSTs as `token` with a signed URL (claims as documented)."""
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {
        "iss": f"{SUBDOMAIN}.zendesk.com", "aud": AUDIENCE, "iat": issued, "exp": issued + 300,
        "context": {"product": "support", "location": "ticket_sidebar"}, **claims}
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, private_key(key), algorithm="RS256")


def zendesk_manifest(directory: Path, link_ttl_s: int | None = None, **zendesk: Any) -> Path:
    """The default manifest with `helpdesks.zendesk` set (the key read from the environment),
    and the sealed links' lifetime when given."""
    data = yaml.safe_load(MANIFEST.read_text())
    data.setdefault("helpdesks", {})["zendesk"] = {
        "subdomain": SUBDOMAIN, "app_public_key": "${ZENDESK_APP_PUBLIC_KEY:-}", **zendesk}
    if link_ttl_s is not None:
        data["helpdesks"].setdefault("embed", {})["link_ttl_s"] = link_ttl_s
    path = directory / "manifest-zendesk.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def _npm() -> str:
    """npm, installed from Debian's packages when missing (as the Makefile does for chromium);
    skips the test saying exactly why when it cannot be had."""
    found = shutil.which("npm")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    steps = [[*sudo, "apt-get", "update", "-qq"],
             [*sudo, "apt-get", "install", "-y", "-qq", "nodejs", "npm"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if done.returncode != 0:
            pytest.skip(f"npm is not installed and `{' '.join(step)}` failed "
                        f"({done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")
    return shutil.which("npm") or pytest.skip("npm is still missing after apt-get install npm")


def bundled_sdk() -> Path:
    """The real ZAF SDK from its npm package (which ships its CommonJS sources, not the CDN's
    built file), bundled by esbuild into the same `ZAFClient` global the CDN script defines."""
    out = SDK_CACHE / f"{ZAF_SDK.replace('@', '-')}.min.js"
    if out.exists():
        return out
    SDK_CACHE.mkdir(parents=True, exist_ok=True)
    installed = subprocess.run(
        [_npm(), "install", "--prefix", str(SDK_CACHE), "--no-save", "--no-audit", "--no-fund",
         ZAF_SDK, ESBUILD], capture_output=True, text=True, timeout=600, check=False)
    if installed.returncode != 0:
        pytest.skip(f"`npm install {ZAF_SDK} {ESBUILD}` failed ({installed.returncode}): "
                    f"{installed.stderr.strip()[-400:]}")
    modules = SDK_CACHE / "node_modules"
    built = subprocess.run(
        [str(modules / ".bin" / "esbuild"), str(modules / "zendesk_app_framework_sdk" / "lib" /
                                                 "index.js"),
         "--bundle", "--format=iife", "--global-name=ZAFClient", "--minify",
         f"--outfile={out}"], capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, f"esbuild could not bundle the ZAF SDK: {built.stderr}"
    return out


@dataclass
class Parent:
    """A running stand-in for Zendesk's agent page: it serves parent.html and the SDK."""

    url: str
    server: ThreadingHTTPServer
    pages: dict[str, dict[str, Any]]

    @property
    def origin(self) -> str:
        return self.url

    def page(self, name: str, **config: Any) -> str:
        """The URL of a parent page framing our sidebar with this configuration."""
        self.pages[name] = config
        return f"{self.url}/parent.html?page={name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_parent(sdk: Path) -> Parent:
    """Serve the parent page and the bundled SDK on 127.0.0.1 (another origin than ours)."""
    pages: dict[str, dict[str, Any]] = {}
    template = (HERE / "parent.html").read_text()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/zaf_sdk.min.js":
                self._send(sdk.read_bytes(), "text/javascript")
            elif path == "/parent.html" and query.removeprefix("page=") in pages:
                config = json.dumps(pages[query.removeprefix("page=")]).replace("<", "\\u003c")
                self._send(template.replace("__CONFIG__", config).encode(), "text/html")
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Parent(f"http://127.0.0.1:{server.server_address[1]}", server, pages)
