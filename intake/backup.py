"""One archive holds everything a restore needs: the database (evidence files included), the keys, the audit checkpoint.

The archive is a tar file:
- `manifest.json`: the format, when, which database kind and schema revision;
- `database.pgdump` (pg_dump's custom format) or `database.sqlite3` (SQLite's online backup API);
  both are consistent snapshots taken while the service keeps serving;
- `keys.sealed`: the encryption keys and the secret key, sealed with AES-256-GCM under a key derived
  from a passphrase the operator types (scrypt); the passphrase is never stored;
- `audit-checkpoint`: the head of the audit chain saved by the last verification, if any.

The database holds identities, chat handles and evidence encrypted, and the keys are sealed: a
stolen archive without the passphrase gives away what the database keeps in clear (case texts, the
audit log), as a stolen database would (SECURITY.md). `restore` refuses a database or var dir that
holds anything, so that it can never overwrite a running deployment.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.engine import URL, make_url

from intake.audit import checkpoint_path
from intake.config import Settings
from intake.files import FILE_MODE, private_dir, write_private

FORMAT = "phananh-backup/1"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}  # about 32 MiB and a tenth of a second to try one passphrase
MIN_PASSPHRASE = 12


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


@dataclass(frozen=True)
class Restored:
    """What a restore did: the database kind, where the keys went, and whether the secret key differs from the one configured."""

    kind: str
    keys_file: Path | None
    secret_differs: bool
    secret_file: Path | None


# -- sealing the keys -----------------------------------------------------------------------------


def seal(secrets_: dict[str, Any], passphrase: str) -> bytes:
    """The keys as JSON, encrypted under a key derived from the passphrase."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    key = Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase.encode("utf-8"))
    sealed = AESGCM(key).encrypt(nonce, json.dumps(secrets_).encode("utf-8"), FORMAT.encode())
    return json.dumps({"kdf": "scrypt", **SCRYPT, "salt": b64(salt), "nonce": b64(nonce), "ciphertext": b64(sealed)}).encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unseal(data: bytes, passphrase: str) -> dict[str, Any]:
    """The keys, or BackupError when the passphrase is not the one they were sealed with."""
    box = json.loads(data)
    key = Scrypt(salt=base64.b64decode(box["salt"]), length=32, n=box["n"], r=box["r"], p=box["p"]).derive(passphrase.encode("utf-8"))
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(box["nonce"]), base64.b64decode(box["ciphertext"]), FORMAT.encode())
    except InvalidTag as err:
        raise BackupError("wrong passphrase (or a damaged archive): nothing was restored") from err
    return dict(json.loads(plain))


# -- the database ---------------------------------------------------------------------------------


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq connection options and environment for pg_dump/pg_restore: the password in PGPASSWORD, never on a command line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)]
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    tool = shutil.which(command[0])
    if tool is None:
        raise BackupError(f"{command[0]} is not installed (Debian: apt install postgresql-client)")
    done = subprocess.run([tool, *command[1:]], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")


def _dump_database(settings: Settings, into: Path) -> tuple[str, str]:
    """A consistent snapshot of the database into the folder; returns (kind, file name)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "postgresql":
        args, env = _pg_args(url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(into / "database.pgdump"), *args], env)
        return "postgresql", "database.pgdump"
    source = sqlite3.connect(url.database or "")
    target = sqlite3.connect(into / "database.sqlite3")
    try:
        with target:
            source.backup(target)  # SQLite's online backup: a consistent copy while others write
    finally:
        target.close()
        source.close()
    return "sqlite", "database.sqlite3"


def _database_is_empty(settings: Settings) -> bool:
    from intake.db import make_engine

    url = settings.effective_database_url
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        if not path.exists() or path.stat().st_size == 0:
            return True
    engine = make_engine(url, pool=1)
    try:
        with engine.connect() as conn:
            return not sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def _restore_database(settings: Settings, kind: str, dump: Path) -> None:
    url = make_url(settings.effective_database_url)
    if kind == "postgresql":
        args, env = _pg_args(url)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *args, str(dump)], env)
        return
    target = Path(url.database or "")
    private_dir(target.parent)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)  # an empty file (the emptiness check allowed nothing else)
    shutil.copyfile(dump, target)
    os.chmod(target, FILE_MODE)


# -- backup and restore ---------------------------------------------------------------------------


def configured_keys(settings: Settings) -> list[str]:
    """The encryption keys in use, newest first."""
    from intake.crypto import _load_keys

    return [k.decode("ascii") for k in _load_keys(settings)]


def backup(settings: Settings, target: Path, passphrase: str) -> dict[str, Any]:
    """Writes the archive (owner-only, atomically); returns its manifest."""
    from intake.db import get_engine

    with get_engine().connect() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        cases = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar()
    sealed = seal({"encryption_keys": configured_keys(settings), "secret_key": settings.secret_key.get_secret_value()}, passphrase)
    # The snapshot waits in the var dir (owner-only), never in a shared /tmp; the archive is written
    # beside its target and renamed into place whole.
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=private_dir(settings.var_dir)) as work:
        folder = Path(work)
        kind, name = _dump_database(settings, folder)
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "database": kind,
                    "revision": revision, "cases": cases}  # fmt: skip
        partial = target.with_name(f".{target.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
                _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                tar.add(folder / name, arcname=name)
                _add(tar, "keys.sealed", sealed)
                checkpoint = checkpoint_path(settings.var_dir)
                if checkpoint.exists():
                    _add(tar, "audit-checkpoint", checkpoint.read_bytes())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), FILE_MODE, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def restore(settings: Settings, source: Path, passphrase: str) -> Restored:
    """Brings an archive back into an empty database and var dir; raises BackupError before changing anything when it cannot."""
    with tarfile.open(source, mode="r") as tar:
        names = set(tar.getnames())
        manifest = json.loads(_read(tar, "manifest.json"))
        if manifest.get("format") != FORMAT:
            raise BackupError("not a phananh backup archive")
        keys = unseal(_read(tar, "keys.sealed"), passphrase)
        kind = "postgresql" if settings.effective_database_url.startswith("postgresql") else "sqlite"
        if manifest["database"] != kind:
            raise BackupError(f"the archive holds a {manifest['database']} database; the configured one is {kind}")
        if not _database_is_empty(settings):
            raise BackupError("the configured database is not empty: restore only into a new, empty database")
        checkpoint = checkpoint_path(settings.var_dir)
        if checkpoint.exists():
            raise BackupError(f"{settings.var_dir} already holds an audit checkpoint: restore into a new var dir")
        keys_file = _place_keys(settings, keys["encryption_keys"])
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=private_dir(settings.var_dir)) as work:
            name = "database.pgdump" if kind == "postgresql" else "database.sqlite3"
            dump = Path(work) / name
            dump.write_bytes(_read(tar, name))
            _restore_database(settings, kind, dump)
        from intake.db import get_engine

        get_engine().dispose()  # connections opened before (to an empty SQLite file since replaced) are not reused
        if "audit-checkpoint" in names:
            write_private(checkpoint, _read(tar, "audit-checkpoint"))
    secret_differs = keys["secret_key"] != settings.secret_key.get_secret_value()
    secret_file = None
    if secret_differs:
        secret_file = settings.var_dir / "secret-key.restored"
        write_private(secret_file, (keys["secret_key"] + "\n").encode())
    return Restored(kind, keys_file, secret_differs, secret_file)


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise BackupError(f"the archive has no {name}")
    return member.read()


def _place_keys(settings: Settings, keys: list[str]) -> Path | None:
    """Puts the restored keys where the settings say they are read from; refuses keys configured otherwise."""
    configured = settings.encryption_keys.get_secret_value()
    if configured:
        given = [k.strip() for k in configured.replace("\n", ",").split(",") if k.strip()]
        if given[: len(keys)] != keys:
            raise BackupError("PHANANH_ENCRYPTION_KEYS differs from the keys in the archive: set it to them (or unset it) and restore again")
        return None
    path = settings.encryption_key_file or settings.var_dir / "keys" / "encryption.keys"
    if path.exists():
        if [k.strip() for k in path.read_text(encoding="ascii").replace(",", "\n").splitlines() if k.strip()] != keys:
            raise BackupError(f"{path} holds other keys than the archive: move it away and restore again")
        return path
    write_private(path, ("\n".join(keys) + "\n").encode("ascii"))
    return path
