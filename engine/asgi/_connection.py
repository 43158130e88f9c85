"""Abort one HTTP connection from inside the app, whatever the server.

A client that stops reading blocks the server's socket send. uvicorn lets the app cancel that
send; Hypercorn's trio worker shields it (``hypercorn/trio/tcp_server.py``, ``protocol_send``),
so no cancellation reaches it and the connection, its tasks and its descriptor stay forever.
ASGI gives the app no handle on the connection, but the scope names both of its ends, and in
this process exactly one socket has that address pair. Resetting that socket (``SO_LINGER``
zero, then ``shutdown``) makes the blocked send fail at once with EPIPE on every server; the
server then closes the connection its usual way, the kernel drops the bytes the client never
read and answers with a reset. The response ends without its final chunk, so the client
(and any proxy or cache) sees it truncated, never complete.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Mapping, Sequence
from typing import Any

_FD_DIRS = ("/proc/self/fd", "/dev/fd")
_LINGER_ZERO = struct.pack("ii", 1, 0)


def reset_connection(scope: Mapping[str, Any]) -> bool:
    """Reset the TCP connection ``scope`` arrived on; False if it cannot be found."""
    client, server = scope.get("client"), scope.get("server")
    if not client or not server:
        return False  # a Unix socket, or a server that does not say
    for fd in _open_descriptors():
        try:
            own = os.dup(fd)  # our own descriptor: the server may close its own meanwhile
        except OSError:
            continue  # closed since it was listed
        try:
            sock = socket.socket(fileno=own)
        except OSError:
            os.close(own)  # not a socket
            continue
        with sock:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                socket.AF_INET,
                socket.AF_INET6,
            ):
                continue
            try:
                if not (_same(sock.getpeername(), client) and _same(sock.getsockname(), server)):
                    continue
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # not connected (a listener), or already gone
            return True
    return False


def _open_descriptors() -> list[int]:
    for directory in _FD_DIRS:
        try:
            return [int(name) for name in os.listdir(directory)]
        except OSError:
            continue
    return []


def _same(address: Any, named: Sequence[Any]) -> bool:
    """A socket address (IPv6 adds flow info and scope) against the scope's ``[host, port]``."""
    return (
        isinstance(address, tuple)
        and len(named) >= 2
        and address[0] == named[0]
        and address[1] == named[1]
    )
