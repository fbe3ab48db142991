"""The one place that reads the environment: every setting, with its default, prefixed PHANANH_."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-insecure-secret-change-me"


class Settings(BaseSettings):
    """Runtime settings; see .env.example for what each one does."""

    model_config = SettingsConfigDict(env_prefix="PHANANH_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    # Fernet keys (url-safe base64, 32 bytes), newest first, comma separated; or a file holding them.
    encryption_keys: SecretStr = SecretStr("")
    encryption_key_file: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    default_language: str = "vi"

    draft_ttl_hours: int = Field(default=24, ge=1)
    max_message_chars: int = Field(default=5000, ge=100)
    max_attachment_mb: int = Field(default=20, ge=1, le=2000)
    max_attachments_per_report: int = Field(default=10, ge=0)

    classifier_model_path: Path | None = None
    classifier_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    routing_rules_file: Path | None = None

    admin_idle_minutes: int = Field(default=30, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    telegram_token: SecretStr = SecretStr("")
    telegram_webhook_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError("PHANANH_SECRET_KEY must be set outside development")
        if self.env == "production" and not (
            self.encryption_keys.get_secret_value() or self.encryption_key_file
        ):
            raise ValueError("PHANANH_ENCRYPTION_KEYS or PHANANH_ENCRYPTION_KEY_FILE must be set outside development")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.var_dir / 'phananh.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
