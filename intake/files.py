"""Files phananh writes on its own disk: readable by the service's account only.

The var directory holds the SQLite database, the development key file, the audit checkpoint and
backups on their way out: none of them is anyone else's business on a shared machine. Directories
are created 0700 and files 0600 whatever the process's umask. A directory that exists already (made
by the operator, or by systemd's StateDirectory=) keeps the mode it was given.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Makes `path` (and any missing parent) a directory only its owner can enter; returns it."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile by another process
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def write_private(path: Path, data: bytes) -> None:
    """Writes a file whole and readable by its owner only, replacing any earlier one atomically."""
    private_dir(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
