"""Network guard for the test run: any connection outside the loopback fails and is recorded.

``install()`` patches the Python socket layer of the process it runs in:

* ``socket.getaddrinfo``, ``gethostbyname`` and ``gethostbyname_ex`` refuse names that are not
  local (``localhost``, an IP literal on the loopback, the machine's own name), so a DNS lookup
  of ``storage.googleapis.com`` never happens;
* ``socket.socket.connect``, ``connect_ex`` and ``sendto`` refuse IPv4 and IPv6 addresses
  outside ``127.0.0.0/8`` and ``::1`` (Unix sockets are untouched).

A refused call raises :class:`NetworkBlockedError` (an ``OSError``, like being offline) and
appends one line to the file named by ``$CNN_SUITE_NET_GUARD_LOG``. Code that catches the error
(a loader falling back to a synthetic stand-in, say) therefore cannot hide the attempt: the
pytest hooks in the repository's ``conftest.py`` read the log after every test item and fail
the item that tried. Child processes (``subprocess`` runs, the notebook kernels that nbmake and
papermill start) get the same guard through ``sitecustomize.py`` in this folder, which
``conftest.py`` puts first on ``PYTHONPATH``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

LOG_ENV = "CNN_SUITE_NET_GUARD_LOG"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
installed = False


class NetworkBlockedError(OSError):
    """A test tried to reach a host outside 127.0.0.1."""


def is_local(host: Any) -> bool:
    """True for loopback or unspecified addresses and for local host names."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").split("%", 1)[0]
    if host == "" or host.lower() in LOCAL_NAMES or host == socket.gethostname():
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name that would need DNS
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or ip.is_unspecified or bool(mapped and mapped.is_loopback)


def _refuse(what: str) -> None:
    line = f"pid {os.getpid()}: {what}"
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    raise NetworkBlockedError(f"network guard: {what} refused; tests stay on 127.0.0.1")


def _check_address(sock: socket.socket, address: Any, call: str) -> None:
    inet = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
    if inet and not is_local(address[0]):
        _refuse(f"{call} to {address[0]}:{address[1]}")


def _guard_name(fn: Callable, call: str) -> Callable:
    def guarded(host, *args, **kwargs):
        if not is_local(host):
            _refuse(f"{call}({host!r})")
        return fn(host, *args, **kwargs)

    guarded.__wrapped__ = fn
    return guarded


def install() -> None:
    """Patch the socket module of this process (idempotent)."""
    global installed
    if installed:
        return
    cls = socket.socket
    connect, connect_ex, sendto = cls.connect, cls.connect_ex, cls.sendto

    def guarded_connect(self, address):
        _check_address(self, address, "connect")
        return connect(self, address)

    def guarded_connect_ex(self, address):
        _check_address(self, address, "connect_ex")
        return connect_ex(self, address)

    def guarded_sendto(self, data, *args):
        _check_address(self, args[-1], "sendto")
        return sendto(self, data, *args)

    cls.connect, cls.connect_ex, cls.sendto = guarded_connect, guarded_connect_ex, guarded_sendto
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        setattr(socket, name, _guard_name(getattr(socket, name), name))
    installed = True


def install_from_env() -> None:
    """Install the guard when ``$CNN_SUITE_NET_GUARD_LOG`` is set (child processes)."""
    if os.environ.get(LOG_ENV):
        install()
