"""sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.

READY=1 once the config validated and the store is open, STATUS= lines with
a one-line summary, WATCHDOG=1 only while the dispatch tick makes progress,
STOPPING=1 at shutdown. Outside systemd (no NOTIFY_SOCKET) every call is a
no-op, so the daemon can call these unconditionally.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=...") to the service manager.

    Returns False when not under systemd or the socket is gone; never raises,
    because a lost notification must not stop the daemon.
    """
    path = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace socket (systemd's usual form)
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: this runs on the event loop, and a reader that does
            # not keep up (a full queue) must not freeze the daemon.
            sock.setblocking(False)
            sock.connect(path)
            sock.sendall(state.encode())
    except OSError:  # BlockingIOError included: the notification is dropped
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
