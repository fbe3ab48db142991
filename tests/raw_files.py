"""Reading a live SQLite database's files as raw bytes, without corrupting it.

SQLite locks its files with POSIX advisory locks, and POSIX drops all of a process's locks on a
file when the process closes *any* descriptor of that file. A test that opens and closes the
database (or its -wal or -shm) with `Path.read_bytes()` in the process that also holds SQLite
connections to it silently releases their locks: another process (a `phananh serve` started by a
later test) then believes it is alone, rebuilds the WAL index under the suite's feet, and the file
reads as "database disk image is malformed" or loses commits (https://sqlite.org/howtocorrupt.html,
2.2). So the bytes are read by a child process, whose descriptors are not this process's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_READ = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"


def raw_bytes(path: Path) -> bytes:
    """The file's bytes, read in a child process."""
    return subprocess.run([sys.executable, "-c", _READ, str(path)], check=True, capture_output=True).stdout
