"""Receipt codes and passphrases: what a resident keeps to come back to a report without an identity."""

from __future__ import annotations

import re
import secrets
from typing import NamedTuple

from intake.crypto import hash_random_secret, keyed_hash, verify_password

# No 0/O, 1/I/L, U: nothing a resident can misread when copying from a phone screen.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PASSPHRASE_ALPHABET = RECEIPT_ALPHABET.lower()
_GROUPS = 3
_GROUP_LEN = 4
_RECEIPT_RE = re.compile(rf"^[{RECEIPT_ALPHABET}]{{{_GROUPS * _GROUP_LEN}}}$")
_PASSPHRASE_RE = re.compile(rf"^[{PASSPHRASE_ALPHABET}]{{{_GROUPS * _GROUP_LEN}}}$")
_SEPARATORS = re.compile(r"[\s\-_.·]+")


def _grouped(chars: str) -> str:
    return "-".join(chars[i : i + _GROUP_LEN] for i in range(0, len(chars), _GROUP_LEN))


def new_receipt() -> str:
    """A random receipt code such as 'K7M2-P9XA-3FQT' (about 59 bits)."""
    return _grouped("".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(_GROUPS * _GROUP_LEN)))


def new_passphrase() -> str:
    """A random passphrase such as 'k7m2-p9xa-3fqt', kept apart from the receipt."""
    return _grouped("".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(_GROUPS * _GROUP_LEN)))


def normalize_receipt(text: str) -> str | None:
    """The canonical receipt for what a resident typed, or None if it cannot be one."""
    compact = _SEPARATORS.sub("", text).upper()
    return _grouped(compact) if _RECEIPT_RE.match(compact) else None


def normalize_passphrase(text: str) -> str | None:
    compact = _SEPARATORS.sub("", text).lower()
    return _grouped(compact) if _PASSPHRASE_RE.match(compact) else None


def receipt_hash(receipt: str) -> str:
    """The keyed hash stored for look-up; the receipt itself is never stored."""
    canonical = normalize_receipt(receipt)
    if canonical is None:
        raise ValueError("not a receipt code")
    return keyed_hash("receipt", canonical)


def hash_passphrase(passphrase: str) -> str:
    return hash_random_secret(passphrase)


class Credentials(NamedTuple):
    """A new report's receipt code and passphrase, with the passphrase's slow hash already made."""

    receipt: str
    passphrase: str
    passphrase_hash: str


def new_credentials() -> Credentials:
    """Makes a receipt and passphrase and hashes the passphrase (Argon2, tens of milliseconds).

    Called before the filing transaction writes anything, so that on SQLite the hash is not
    computed while holding the database's single write lock.
    """
    passphrase = new_passphrase()
    return Credentials(new_receipt(), passphrase, hash_passphrase(passphrase))


def check_passphrase(stored: str, passphrase: str) -> bool:
    canonical = normalize_passphrase(passphrase)
    return canonical is not None and verify_password(stored, canonical)
