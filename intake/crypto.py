"""Secrets at rest: Fernet encryption with rotation, keyed hashes for look-up, Argon2 for passphrases."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from intake.config import Settings, get_settings
from intake.errors import ConfigurationError
from intake.files import private_dir

log = logging.getLogger(__name__)

# Staff passwords are chosen by people: Argon2id with the library's recommended (RFC 9106) cost.
_hasher = PasswordHasher()
# Receipt passphrases are 60 random bits, never chosen by people, and reachable only through the
# keyed receipt hash; OWASP's minimum Argon2id cost (19 MiB, 2 passes) keeps filing a report fast.
_passphrase_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def _dev_key_file(settings: Settings) -> Path:
    return settings.var_dir / "keys" / "encryption.keys"


def _load_keys(settings: Settings) -> list[bytes]:
    raw = settings.encryption_keys.get_secret_value()
    if not raw and settings.encryption_key_file:
        try:
            raw = settings.encryption_key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigurationError(f"encryption key file unreadable: {type(err).__name__}") from err
    if not raw:
        if settings.env == "production":
            raise ConfigurationError("no encryption key configured")
        path = _dev_key_file(settings)
        if not path.exists():
            _create_dev_key(path)
        raw = path.read_text(encoding="ascii")
    keys = [k.strip().encode("ascii") for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise ConfigurationError("encryption key list is empty")
    return keys


def _create_dev_key(path: Path) -> None:
    """Writes a new key file whole, then links it into place: a process or thread that loses the race
    to create it reads the winner's complete file, never a half-written one."""
    private_dir(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(Fernet.generate_key().decode("ascii") + "\n")
        try:
            os.link(partial, path)
            log.warning("development encryption key created at %s", path)
        except FileExistsError:
            pass  # created meanwhile by another thread or process
    finally:
        partial.unlink(missing_ok=True)


@functools.cache
def _keyring() -> tuple[MultiFernet, Fernet, int]:
    """All configured keys (decryption), the newest one (encryption), and how many there are."""
    try:
        fernets = [Fernet(k) for k in _load_keys(get_settings())]
    except ValueError as err:  # the message names no key material
        raise ConfigurationError("an encryption key is not a valid Fernet key (32 url-safe base64 bytes)") from err
    return MultiFernet(fernets), fernets[0], len(fernets)


def _fernet() -> MultiFernet:
    return _keyring()[0]


def check_keys() -> int:
    """Loads the configured keys once, so that a missing or malformed key stops a process at start; returns how many."""
    return _keyring()[2]


def generate_key() -> str:
    """A new random Fernet key, as text to put first in PHANANH_ENCRYPTION_KEYS or the key file."""
    return Fernet.generate_key().decode("ascii")


def is_current(token: bytes) -> bool:
    """Whether a token is sealed with the newest key (nothing to rotate)."""
    try:
        _keyring()[1].decrypt(token)
    except InvalidToken:
        return False
    return True


def encrypt(plaintext: str) -> bytes:
    """Encrypts text with the newest key."""
    return _fernet().encrypt(plaintext.encode("utf-8"))


def decrypt(token: bytes) -> str:
    """Decrypts text sealed with any configured key."""
    try:
        return _fernet().decrypt(token).decode("utf-8")
    except InvalidToken as err:
        raise ConfigurationError("data cannot be decrypted with the configured keys") from err


def encrypt_bytes(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken as err:
        raise ConfigurationError("data cannot be decrypted with the configured keys") from err


def rotate(token: bytes) -> bytes:
    """Re-encrypts a token under the newest key."""
    return _fernet().rotate(token)


def _hash_key(purpose: str) -> bytes:
    secret = get_settings().secret_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, purpose.encode("ascii"), hashlib.sha256).digest()


def keyed_hash(purpose: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256) for looking a secret up without storing it."""
    return hmac.new(_hash_key(purpose), value.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_random_secret(secret: str) -> str:
    """Argon2id at the lower cost suited to machine-generated secrets."""
    return _passphrase_hasher.hash(secret)


def verify_password(stored_hash: str, password: str) -> bool:
    """Checks a password or passphrase against its Argon2 hash, in constant time."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def reset_caches() -> None:
    """Forgets loaded keys (tests and key rotation)."""
    _keyring.cache_clear()
