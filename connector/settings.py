"""Process settings, read from CONNECTOR_* environment variables."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Everything about this process that is not in the manifest (and every secret)."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore")

    manifest: Path = Path("manifest.yaml")
    data_dir: Path = Path("var")
    demo_dir: Path = Path("var/demo")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    api_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    # when set, /metrics asks for `Authorization: Bearer <it>` (its figures name no customer,
    # but they tell an outsider how busy the service is and which sources fail)
    metrics_token: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 8
    log_level: str = "INFO"
    # the demo helpdesk (`/demo`, which makes sealed links for its sample tickets): only where
    # asked for (`make run` sets CONNECTOR_DEMO=1), never on a production service
    demo: bool = False
    # how long a worker may hold an event before another process takes it over (it died)
    event_lease_s: int = Field(default=300, ge=1, le=86400)
    # how many webhook events one process works at once (they mostly wait on sources)
    worker_threads: int = Field(default=4, ge=1, le=32)

    def database(self) -> str:
        """Where links and audit live: CONNECTOR_DATABASE_URL, else SQLite under data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'connector.sqlite'}"

    def signing_key(self) -> bytes:
        """The key that signs sidebar links: CONNECTOR_SECRET_KEY, else one kept under data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
            log.warning("CONNECTOR_SECRET_KEY is not set: generated a signing key in %s", path)
        return path.read_text().strip().encode()
