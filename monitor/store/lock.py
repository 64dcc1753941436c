"""One daemon per SQLite file: an advisory lock held beside the database.

Two daemons on one SQLite file both poll and both deliver, and each start
voids the other's claims: alerts went out many times over (issue 14). The
daemon (and `run --once`) holds an exclusive `flock` on `<file>.lock` for as
long as its store is open; a second one is refused at once, naming the
first one's pid. The kernel drops the lock when its holder dies, however
it dies, so a crash never leaves a stale lock. Read-only commands (`status`,
`history`) do not take it. PostgreSQL needs none: instances share the work
through row locks and leases.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from monitor.errors import StoreError


class FileLock:
    """The lock of the SQLite database at `path`, held until `release`."""

    def __init__(self, path: str) -> None:
        self.path = f"{path}.lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise StoreError(f"{path} is in use by another newsmonitor daemon (pid {holder}); "
                             "one daemon per SQLite file: stop it first, or use PostgreSQL "
                             "to run several") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
