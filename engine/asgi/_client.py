"""Noticing that the client left, so that what still runs for it is cancelled.

Someone has to wait on ``receive`` for ``http.disconnect`` while the render waits for its
data. Under trio (Hypercorn's trio worker) that is a task in the request's nursery. Under an
asyncio server it is a task of the host loop awaiting the server's own ``receive``, as
Starlette's streaming response does: a trio task there would add its frames and the bridge's
to every open stream (about 3 KiB each on S3's page) only to wait on the host loop anyway.
"""

from __future__ import annotations

import asyncio

import trio

from ._guest import HostReceive, Receive

__all__ = ["ClientWatch"]


class ClientWatch:
    """Watches one request's client from :meth:`start` until :meth:`end`."""

    __slots__ = ("_failure", "_host", "_receive", "_request")

    def __init__(self, receive: Receive, request: trio.Nursery) -> None:
        self._receive = receive
        self._request = request  # the client leaving cancels this nursery, and all it runs
        self._host: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def start(self) -> None:
        receive = self._receive
        if isinstance(receive, HostReceive):
            self._host = receive.watch(self._left)
        else:
            self._request.start_soon(_watch_client, receive, self._request.cancel_scope)

    def _left(self, failure: BaseException | None) -> None:
        """On the host loop, between trio's ticks, where trio's synchronous calls are allowed:
        the client left, or the server's ``receive`` failed (raised from :meth:`end`)."""
        self._failure = failure
        self._request.cancel_scope.cancel()

    def end(self) -> None:
        """The response is over: stop watching, cancel what still runs for it (the rest of a
        HEAD's render, say), and raise what the server's ``receive`` raised."""
        if self._host is not None:
            self._host.cancel()  # it only waits on the server: it settles on the loop's next turn
        if self._request.child_tasks:  # the trio watcher, queries a HEAD or an error left
            self._request.cancel_scope.cancel()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure


async def _watch_client(receive: Receive, request: trio.CancelScope) -> None:
    """Cancel ``request`` when the client leaves."""
    while (await receive())["type"] != "http.disconnect":
        pass
    request.cancel()
