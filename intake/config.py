"""The one place that reads the environment: every setting, with its default, prefixed PHANANH_."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-insecure-secret-change-me"
SECRET_KEY_BYTES = 32  # the least randomness a production secret key must carry
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


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

    # Connections to PostgreSQL that one `phananh serve` opens at most, its Zalo worker processes
    # included (each takes WORKER_CONNECTIONS, the server keeps the rest; see `pool_size`).
    database_connections: int = Field(default=20, ge=4, le=500)
    # Redis, for the rate limits shared by every server of a deployment (required to run more than one
    # `phananh serve` on one database). Empty: the limits are counted in the server's memory.
    redis_url: SecretStr = SecretStr("")
    redis_prefix: str = Field(default="phananh", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")  # every key this deployment writes starts so
    # A bearer token that lets a scraper on another machine read /metrics; empty: /metrics answers loopback only.
    metrics_token: SecretStr = SecretStr("")

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    default_language: str = "vi"
    # Where to report a security problem in this service (mailto: or https:), published at
    # /.well-known/security.txt (RFC 9116); unset, that address answers 404.
    security_contact: str = Field(default="", pattern=r"^$|^(mailto:|https://)\S+$")

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
    # Telegram's public Bot API, or a self-hosted telegram-bot-api server (e.g. http://127.0.0.1:8081).
    telegram_api_url: str = "https://api.telegram.org"
    telegram_file_url: str = ""  # empty: <telegram_api_url>/file
    telegram_local_mode: bool = False  # the server runs with --local: files are read from its disk
    max_local_attachment_mb: int = Field(default=200, ge=1, le=2000)
    telegram_sends_per_second: int = Field(default=30, ge=1, le=1000)

    # Per-chat limits on the messaging channels (a sliding minute, a sliding day).
    chat_messages_per_minute: int = Field(default=20, ge=1)
    chat_reports_per_day: int = Field(default=5, ge=1)

    # Web limits: request bodies over these sizes (KiB) are refused with 413 before they are read.
    # The upload routes take PHANANH_MAX_ATTACHMENT_MB (per file) on top of the form limit.
    max_body_kb: int = Field(default=64, ge=8)  # the web chat's messages, sign-in, everything else
    max_admin_form_kb: int = Field(default=512, ge=16)  # admin forms: Vietnamese text is percent-encoded, up to 9 bytes a letter
    max_webhook_body_kb: int = Field(default=1024, ge=16)  # Telegram and Zalo webhook calls
    # The web chat's pace (a sliding minute, in each process's memory), per chat.
    web_chat_messages_per_minute: int = Field(default=30, ge=1)
    # A new web chat solves a SHA-256 puzzle first (bot/admission.py): this many leading zero bits, one more
    # per doubling of new chats over the rate below, at most the extra bits above it.
    web_chat_pow_bits: int = Field(default=14, ge=0, le=30)
    web_chat_new_chats_per_minute: int = Field(default=60, ge=1)
    web_chat_pow_max_extra_bits: int = Field(default=6, ge=0, le=12)

    # Zalo Official Account (OA API v3, OAuth v4): on when the app id and the OA secret key are set.
    zalo_app_id: str = ""
    zalo_oa_id: str = ""  # set: events addressed to another OA are refused
    zalo_oa_secret_key: SecretStr = SecretStr("")  # checks X-ZEvent-Signature on webhook events
    zalo_app_secret: SecretStr = SecretStr("")  # the app's secret key, sent to OAuth v4 to refresh tokens
    # The refresh token from authorizing the app; each refresh replaces it, kept encrypted in the database.
    zalo_initial_refresh_token: SecretStr = SecretStr("")
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_signature_max_age_seconds: int = Field(default=300, ge=10, le=86400)
    # "template": choices as Zalo buttons (up to five), numbered in the text beyond that; "numbers": always numbered.
    zalo_buttons: Literal["template", "numbers"] = "template"
    # Processes that run the conversation for Zalo events, apart from the web server's (0: threads in it).
    zalo_worker_processes: int = Field(default=2, ge=0, le=32)

    # Delivery of staff messages to residents (the outbox).
    outbox_in_serve: bool = True  # `phananh serve` runs one delivery worker; turn off when `phananh worker` runs apart
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)  # then the message is a dead letter, shown in the admin
    outbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    # Retention: chat handles and attachments of a closed case are purged this many days after it closes.
    retention_days: int = Field(default=90, ge=0)
    purge_interval_hours: float = Field(default=24, ge=0)  # how often `serve` purges; 0: never (run `phananh purge`)
    # Seconds after start before a server first looks for due scheduled jobs (the purge; twice this for
    # expiring drafts, five times for the audit check). The schedule itself lives in the database.
    background_delay_seconds: float = Field(default=60, ge=0, le=3600)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        """In production, every missing or weak secret is named at once (one start, one list to fix)."""
        if self.env != "production":
            return self
        problems: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET or not secret:
            problems.append("PHANANH_SECRET_KEY must be set outside development")
        elif secret_key_bytes(secret) < SECRET_KEY_BYTES:
            problems.append(
                f"PHANANH_SECRET_KEY must carry at least {SECRET_KEY_BYTES} random bytes "
                "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not (self.encryption_keys.get_secret_value() or self.encryption_key_file):
            problems.append("PHANANH_ENCRYPTION_KEYS or PHANANH_ENCRYPTION_KEY_FILE must be set outside development")
        if self.zalo_app_id or self.zalo_oa_secret_key.get_secret_value():
            for name, value in (
                ("PHANANH_ZALO_APP_ID", self.zalo_app_id),
                ("PHANANH_ZALO_OA_SECRET_KEY", self.zalo_oa_secret_key.get_secret_value()),
                ("PHANANH_ZALO_APP_SECRET", self.zalo_app_secret.get_secret_value()),
            ):
                if not value:
                    problems.append(f"{name} must be set when Zalo is configured")
        if problems:
            raise ValueError("; ".join(problems))
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


def secret_key_bytes(secret: str) -> int:
    """How many random bytes a secret key can carry, read as hex, as base64, or else one per character.

    A key made of few distinct characters ("aaaa…", "abcabc…") counts as none: it was typed, not drawn.
    """
    if len(set(secret)) < 8:
        return 0
    if _HEX.match(secret) and len(secret) % 2 == 0:
        return len(secret) // 2
    if _BASE64.match(secret):
        try:
            padded = secret.rstrip("=") + "=" * (-len(secret.rstrip("=")) % 4)
            return len(base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_")))
        except (binascii.Error, ValueError):
            pass
    return len(secret)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
