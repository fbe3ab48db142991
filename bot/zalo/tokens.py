"""The OA access token: refreshed through OAuth v4, both tokens kept encrypted, the refresh token rotated.

Zalo's access token lives about 25 hours and its refresh token three months; each refresh token
works once and the answer carries the next one. So a refresh must be stored before anything else
happens, and two processes must never refresh with the same token: the refresh runs while holding
the token row's lock (an UPDATE first, which locks the row on PostgreSQL and the database on
SQLite), and a process that waited finds the new token already there. The first refresh token
comes from `PHANANH_ZALO_INITIAL_REFRESH_TOKEN`; it is tried again if the stored one is refused,
which is how an administrator recovers after re-authorizing the app.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake.config import Settings
from intake.crypto import decrypt, encrypt
from intake.db import session_scope
from intake.models import ZaloToken, utcnow

log = logging.getLogger(__name__)

TOKEN_PATH = "/v4/oa/access_token"
DEFAULT_LIFETIME = 90000  # seconds; what Zalo gives an access token
EARLY = timedelta(minutes=10)  # refreshed this long before it expires, so a send never races the expiry
KEEP_ALIVE = timedelta(days=7)  # refreshed at least this often, so the refresh token never reaches its three months


class ZaloAuthError(Exception):
    """No access token could be had: no refresh token, or Zalo refused it (re-authorize the app)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Grant:
    """What OAuth v4 answered: the tokens and when the access token expires."""

    access_token: str
    refresh_token: str
    expires_at: datetime


def oa_key(settings: Settings) -> str:
    """The row the tokens are kept under: the OA id when configured, else the app id."""
    return settings.zalo_oa_id or f"app:{settings.zalo_app_id}"


class TokenStore:
    """Hands out a valid access token, refreshing and rotating when needed; blocking (call it off the loop)."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.settings = settings
        self.key = oa_key(settings)
        self._http = httpx.Client(transport=transport, timeout=timeout)
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime] | None = None
        self.refreshes = 0  # successful refreshes by this process (tests and logs)

    def close(self) -> None:
        self._http.close()

    def current(self) -> str:
        """A usable access token: the cached one, the stored one, or a fresh one."""
        cached = self._cached
        if cached is not None and cached[1] - EARLY > utcnow():
            return cached[0]
        with self._lock:
            with session_scope() as session:
                row = self._row(session)
                if row is not None and self._usable(row):
                    return self._remember(row)
            return self._refresh(rejected=None)

    def rejected(self, token: str) -> str:
        """Zalo refused this access token: a new one (another process may have refreshed already)."""
        with self._lock:
            self._cached = None
            return self._refresh(rejected=token)

    # -- internals ----------------------------------------------------------------------------

    def _row(self, session: Session) -> ZaloToken | None:
        return session.exec(select(ZaloToken).where(ZaloToken.oa_id == self.key)).first()

    def _usable(self, row: ZaloToken) -> bool:
        now = utcnow()
        return row.expires_at - EARLY > now and row.updated_at + KEEP_ALIVE > now

    def _remember(self, row: ZaloToken) -> str:
        token = decrypt(row.access_token_enc)
        self._cached = (token, row.expires_at)
        return token

    def _refresh(self, *, rejected: str | None, again: bool = True) -> str:
        try:
            with session_scope() as session:
                # Take the row's lock before reading it: a second process waits here, then finds our result.
                session.execute(sa.update(ZaloToken).where(ZaloToken.oa_id == self.key).values(updated_at=ZaloToken.updated_at))  # type: ignore[arg-type]
                row = session.exec(select(ZaloToken).where(ZaloToken.oa_id == self.key).with_for_update()).first()
                if row is not None and self._usable(row):
                    token = decrypt(row.access_token_enc)
                    if rejected is None or token != rejected:
                        self._cached = (token, row.expires_at)
                        return token
                grant = self._grant(decrypt(row.refresh_token_enc) if row is not None else None)
                if row is None:
                    row = ZaloToken(oa_id=self.key, access_token_enc=b"", refresh_token_enc=b"", expires_at=grant.expires_at)
                row.access_token_enc = encrypt(grant.access_token)
                row.refresh_token_enc = encrypt(grant.refresh_token)
                row.expires_at = grant.expires_at
                row.updated_at = utcnow()
                session.add(row)
        except IntegrityError:
            # Another process stored the first tokens at the same moment: theirs are good.
            if not again:
                raise
            return self._refresh(rejected=rejected, again=False)
        self.refreshes += 1
        self._cached = (grant.access_token, grant.expires_at)
        log.info("zalo access token refreshed, valid until %s", grant.expires_at.isoformat(timespec="minutes"))
        return grant.access_token

    def _grant(self, stored: str | None) -> Grant:
        """Refreshes with the stored refresh token, else (or if refused) the configured one."""
        initial = self.settings.zalo_initial_refresh_token.get_secret_value()
        if stored:
            try:
                return self._call(stored)
            except ZaloAuthError as err:
                if not initial or initial == stored:
                    raise
                log.warning("stored zalo refresh token refused (%s); trying the configured one", err.code)
        if not initial:
            raise ZaloAuthError("no refresh token: set PHANANH_ZALO_INITIAL_REFRESH_TOKEN")
        return self._call(initial)

    def _call(self, refresh_token: str) -> Grant:
        """POST /v4/oa/access_token with grant_type=refresh_token; the answer must carry both new tokens."""
        url = self.settings.zalo_oauth_base.rstrip("/") + TOKEN_PATH
        try:
            response = self._http.post(
                url,
                headers={"secret_key": self.settings.zalo_app_secret.get_secret_value()},
                data={"app_id": self.settings.zalo_app_id, "refresh_token": refresh_token, "grant_type": "refresh_token"},
            )
            body: Any = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise ZaloAuthError(f"OAuth call failed: {type(err).__name__}") from err
        if not isinstance(body, dict):
            raise ZaloAuthError("OAuth answer is not an object")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            code = body.get("error")
            raise ZaloAuthError(f"OAuth refused the refresh token (HTTP {response.status_code})", code if isinstance(code, int) else None)
        expires_in = str(body.get("expires_in", ""))
        seconds = int(expires_in) if expires_in.isdigit() else DEFAULT_LIFETIME
        return Grant(access, refresh, utcnow() + timedelta(seconds=seconds))
