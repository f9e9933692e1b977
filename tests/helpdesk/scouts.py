"""What the Help Scout and FreeScout tests share: signed requests, a manifest with their
entries (secrets from the environment), and the service built in-process on the demo."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy
import yaml

from connector.app import Services, build_services
from connector.helpdesk.base import SidebarContext
from connector.helpdesk.deps import HelpdeskDeps
from connector.helpdesk.embed import EmbedLinks
from connector.manifest import load_manifest
from connector.settings import Settings
from tests.conftest import MANIFEST, ROOT

FIXTURES = ROOT / "tests" / "fixtures"
PAULINE = "pauline.deneve@easiware.fr"


def fixture(helpdesk: str, name: str) -> bytes:
    """A stored payload, byte for byte."""
    return (FIXTURES / helpdesk / name).read_bytes()


def sha1_b64(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA1(secret, body)): Help Scout's and FreeScout's signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def write_manifest(folder: Path, helpdesks: Mapping[str, Any]) -> Path:
    """The default manifest with these helpdesk entries added, written in `folder`."""
    data = yaml.safe_load(MANIFEST.read_text())
    data.setdefault("helpdesks", {}).update(helpdesks)
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def in_process(manifest: Path, env: Mapping[str, str], var: Path) -> Services:
    """The service wired in this process from a manifest, its secrets from `env`."""
    settings = Settings(data_dir=var, demo_dir=Path(env["CONNECTOR_DEMO_DIR"]),
                        secret_key="test-secret-key", public_url="http://connector.test")
    return build_services(settings, load_manifest(manifest, env=env))


def wait_for_contact(var: Path, helpdesk: str, ticket: str, seconds: float = 15) -> int:
    """How many contacts a serving process (its data in `var`) recorded for this ticket,
    waiting up to `seconds` for one."""
    engine = sqlalchemy.create_engine(f"sqlite:///{var / 'connector.sqlite'}")
    query = sqlalchemy.text("SELECT count(*) FROM contacts WHERE helpdesk = :helpdesk "
                            "AND ticket_id = :ticket")
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as connection:
                count = int(connection.execute(
                    query, {"helpdesk": helpdesk, "ticket": ticket}).scalar_one())
            if count or time.monotonic() > deadline:
                return count
            time.sleep(0.2)
    finally:
        engine.dispose()


class Renderer:
    """Records the contexts the adapter asks to render (the real one is tested end to end)."""

    def __init__(self) -> None:
        self.contexts: list[SidebarContext] = []

    def __call__(self, context: SidebarContext) -> str:
        self.contexts.append(context)
        return "<p>record</p>"


def deps(renderer: Renderer | None = None) -> HelpdeskDeps:
    """What the service lends an adapter, with a recording renderer."""
    return HelpdeskDeps(links=EmbedLinks(b"k", 600, "FR"), public_url="http://connector.test",
                        region="FR", secret_key=b"k", render_fragment=renderer or Renderer(),
                        clock=time.time)
