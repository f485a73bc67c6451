"""Where the server listens and who may use it: the address, the socket bound before the slow
start, the login from the environment, and the warning when anyone could reach it.

`qa serve` calls `open_listener` before importing Gradio or loading an index, so a busy port
or a bad setting fails in well under a second, with one line:

    >>> listen_address("127.0.0.1", 7861).url
    'http://127.0.0.1:7861/'
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


@dataclass(frozen=True)
class Address:
    """Where the server listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The address as a URL for messages, an IPv6 host in brackets: 'http://[::1]:7860/'."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


class ListenError(Exception):
    """The server cannot listen where asked (port in use, no permission, unknown host).

    The message is one line that names the address and the fix."""


def listen_address(host: str | None = None, port: int | str | None = None) -> Address:
    """`host`/`port`, else $QA_HOST/$QA_PORT, else 127.0.0.1:7860; `ValueError` for a bad port."""
    host = host or os.environ.get("QA_HOST") or DEFAULT_HOST
    raw = port if port is not None else os.environ.get("QA_PORT") or DEFAULT_PORT
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"QA_PORT must be a port number, not {raw!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {number}")
    return Address(host, number)


def bind_listener(address: Address) -> socket.socket:
    """A socket bound to `address` (not yet listening), or `ListenError` with one clear line.

    Binding before anything else (before Gradio is even imported) lets a busy port fail in
    well under a second, before any line claims the server is up, and hands uvicorn the very
    socket that was checked, so nothing can take the port in between.
    """
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ListenError(f"cannot listen on {address.host!r}: {error.strerror}; check --host or QA_HOST") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
    try:
        sock.bind(sockaddr)
    except OSError as error:
        sock.close()
        where = f"{address.host}:{address.port}"
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise ListenError(
                f"port {address.port} is already in use on {address.host}; stop the other server "
                "or choose another port with --port (or QA_PORT)"
            ) from None
        raise ListenError(f"cannot listen on {where}: {error.strerror or error}; choose another --host/--port") from None
    sock.set_inheritable(True)
    return sock


def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from QA_AUTH_USER and QA_AUTH_PASSWORD; None when neither is set."""
    user = os.environ.get("QA_AUTH_USER", "")
    password = os.environ.get("QA_AUTH_PASSWORD", "")
    if not user and not password:
        return None
    if not user or not password:
        raise ValueError("set both QA_AUTH_USER and QA_AUTH_PASSWORD for basic auth, or neither")
    return user, password


@dataclass(frozen=True)
class Listener:
    """A bound socket and the address it was asked for (for messages and URLs)."""

    socket: socket.socket
    address: Address


def open_listener(host: str | None = None, port: int | str | None = None, *, share: bool = False) -> Listener:
    """Check the settings, bind the port and warn about an open server, all in well under a
    second: `qa serve` calls this before importing Gradio or loading the index.

    Raises `ValueError` for bad settings and `ListenError` when the port cannot be had.
    """
    address = listen_address(host, port)
    auth = auth_from_env()
    listener = Listener(bind_listener(address), address)
    warning = exposure_warning(address.host, share, auth)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return listener


def is_loopback(host: str) -> bool:
    """True when `host` reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except socket.gaierror:
            return False
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def exposure_warning(host: str, share: bool, auth: tuple[str, str] | None) -> str | None:
    """One line when the server is reachable by others without a login, else None."""
    if auth is not None or (is_loopback(host) and not share):
        return None
    where = "a public --share link" if share else f"{host}, reachable from other machines,"
    return (
        f"qa: warning: serving on {where} without a login: anyone who can reach it can ask, "
        "upload and remove documents; set QA_AUTH_USER and QA_AUTH_PASSWORD (and consider --read-only)"
    )
