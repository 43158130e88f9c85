"""Run a trio-native ASGI app, unchanged, inside an asyncio server (uvicorn, Starlette, FastAPI).

The engine resolves pages with trio. Under Hypercorn's trio worker the app is called from a trio
task and nothing here is used. Under an asyncio server, trio runs in *guest mode* on the server's
own event loop (same thread; only trio's I/O wait runs in a helper thread), so trio's scheduling,
cancel scopes and deadlines keep their exact semantics. Each ASGI call becomes one trio task;
``receive``/``send`` are bridged back to the host loop as asyncio tasks.

Lifecycle: one guest run per event loop, started on first use. It stops when the app's lifespan
shutdown completes or, if the server never sends lifespan events (a Starlette ``Mount`` does not),
when ``asyncio.run`` cancels its remaining tasks at exit: a keeper task then stops the guest and
waits for it, because a trio guest must finish before its host loop closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, MutableMapping
from typing import Any, Generic, TypeVar, cast

import outcome
import trio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("engine.asgi")
T = TypeVar("T")


def in_trio() -> bool:
    """True when called from a trio task (Hypercorn's trio worker, ``trio.run``, a guest task).

    Not ``current_trio_token()``: that also succeeds in *host* code while a guest run is active
    on the thread; and sniffio can be confused by guest mode (python-trio/trio#2183).
    """
    return trio.lowlevel.in_trio_task()


class _Guest:
    """One trio guest run hosted by one asyncio loop, with a nursery for request tasks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._context: contextvars.Context | None = None
        # In a fresh context: trio's tasks inherit the context the run starts in, and the
        # request that happens to start it must not leak its contextvars (its tracing span,
        # say) into every later request's tasks.
        contextvars.Context().run(
            trio.lowlevel.start_guest_run,
            self._main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=self._finished,
            host_uses_signal_set_wakeup_fd=True,
        )
        self._keeper = loop.create_task(self._keep_until_loop_exit())

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._context = contextvars.copy_context()
            self.loop.call_soon(_resolve, self.ready, None)
            await trio.sleep_forever()

    def _finished(self, result: outcome.Outcome[None]) -> None:
        if isinstance(result, outcome.Error):
            log.error("trio guest run crashed", exc_info=result.error)
        _resolve(self.ready, None)  # unblock waiters if the run died before starting
        _resolve(self.done, None)

    async def _keep_until_loop_exit(self) -> None:
        try:
            await asyncio.shield(self.done)
        except asyncio.CancelledError:
            await self.stop()
            raise

    def spawn(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Start ``fn`` as a task of the guest nursery (inside trio's context, not the host's).

        Called on the host loop's thread, between guest ticks, where trio's synchronous
        functions may be called: starting the task here, rather than through the run's
        ``run_sync_soon``, saves a write to trio's wake-up socket and a hop through its
        entry-queue task on every request.
        """
        if self._context is None or self._nursery is None or self.done.done():
            raise RuntimeError("the trio guest run is not running")
        self._context.run(self._nursery.start_soon, fn)

    async def stop(self) -> None:
        """Cancel every task of the guest run and wait until trio has fully exited."""
        if not self.done.done() and self.token is not None and self._nursery is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self.token.run_sync_soon(self._nursery.cancel_scope.cancel)
        while not self.done.done():
            try:
                await asyncio.shield(self.done)
            except asyncio.CancelledError:
                continue  # trio must finish before the loop closes; it was told to stop

    async def await_host(self, make: Callable[[], Awaitable[T]], *, step_first: bool = False) -> T:
        """From a guest task: run an asyncio awaitable on the host loop and wait for it.

        With ``step_first`` the coroutine takes its first step right here, in the guest task:
        a server's ``send`` that only writes to its transport finishes in that step, and the
        trio task goes on with no asyncio task, no wake-up through trio's I/O thread and no
        trip around the host loop. Only if it suspends does an asyncio task take it over.

        Cancelling the trio caller cancels the asyncio task and waits for it to settle, so a
        bridged ``send`` is never left running behind the caller's back.
        """
        if step_first:
            coroutine = make()
            if not isinstance(coroutine, Coroutine):
                raise TypeError(f"expected a coroutine from {make!r}, got {coroutine!r}")
            try:
                suspended_on = coroutine.send(None)
            except StopIteration as finished:
                return cast("T", finished.value)
            task: asyncio.Task[T] = self.loop.create_task(_go_on(coroutine, suspended_on))
        else:
            task = self.loop.create_task(_as_coroutine(make))
        waiter = trio.lowlevel.current_task()
        cancelled = False

        def abort(_: object) -> trio.lowlevel.Abort:
            nonlocal cancelled
            cancelled = True
            task.cancel()
            return trio.lowlevel.Abort.FAILED  # woken below, once the task has settled

        # The done callback runs on the host loop, same thread: it may wake a trio task.
        task.add_done_callback(lambda _: trio.lowlevel.reschedule(waiter))
        await trio.lowlevel.wait_task_rescheduled(abort)
        if cancelled:
            await trio.lowlevel.checkpoint()  # raises the cancellation that aborted the wait
        return task.result()


async def _as_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def _go_on(coroutine: Coroutine[Any, Any, T], suspended_on: Any) -> T:
    """Finish, as an asyncio task, a coroutine whose first step was taken outside of one."""
    return await _Resumed(coroutine, suspended_on)


class _Resumed(Generic[T]):
    """Awaiting it hands the asyncio task what the coroutine last yielded (the future it waits
    for), then relays the task's sends and throws to the coroutine: ``yield from``, resumed."""

    def __init__(self, coroutine: Coroutine[Any, Any, T], suspended_on: Any) -> None:
        self._coroutine = coroutine
        self._suspended_on = suspended_on

    def __await__(self) -> Generator[Any, Any, T]:
        coroutine, yielded = self._coroutine, self._suspended_on
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # the task's cancellation, relayed as it came
                try:
                    yielded = coroutine.throw(exc)
                except StopIteration as finished:
                    return cast("T", finished.value)
            else:
                try:
                    yielded = coroutine.send(sent)
                except StopIteration as finished:
                    return cast("T", finished.value)


#: Servers whose own ``receive`` and ``send`` may take their first step outside any asyncio
#: task: they read neither ``asyncio.current_task()`` nor sniffio (which says "trio" there),
#: and most of their sends only write to the transport. A middleware's wrapper may read
#: either, so anything else runs as an asyncio task from the start.
_STEP_FIRST_SERVERS = ("uvicorn.protocols.",)


def _server_own(channel: Callable[..., Any]) -> bool:
    owner = getattr(channel, "__self__", None)
    return type(owner).__module__.startswith(_STEP_FIRST_SERVERS)


class HostReceive:
    """The server's ``receive`` as a guest task sees it: awaited through the bridge, or
    watched for the client's leaving by a task of the host loop (``_client``)."""

    __slots__ = ("_guest", "_receive", "_step_first")

    def __init__(self, guest: _Guest, receive: Receive) -> None:
        self._guest = guest
        self._receive = receive
        self._step_first = _server_own(receive)

    async def __call__(self) -> Message:
        return await self._guest.await_host(self._receive, step_first=self._step_first)

    def watch(self, left: Callable[[BaseException | None], None]) -> asyncio.Task[None]:
        """Call ``left(None)`` from the host loop when the client leaves, or ``left(error)``
        if the server's ``receive`` raises; cancelling the task stops the watch."""
        task = self._guest.loop.create_task(_until_disconnect(self._receive))
        task.add_done_callback(functools.partial(_watched, left))
        return task


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _watched(left: Callable[[BaseException | None], None], task: asyncio.Task[None]) -> None:
    if not task.cancelled():  # cancelled: the response is over, and nothing is watched
        left(task.exception())


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


_guests: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Guest] = weakref.WeakKeyDictionary()


async def _guest_for_running_loop() -> _Guest:
    loop = asyncio.get_running_loop()
    guest = _guests.get(loop)
    if guest is None or guest.done.done():
        guest = _guests[loop] = _Guest(loop)
    await asyncio.shield(guest.ready)
    if guest.done.done():
        raise RuntimeError("the trio guest run exited during startup")
    return guest


async def run_in_guest(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run one ASGI call as a trio task of the running loop's guest run; cancelling the host
    task cancels the trio task. (One frame for an open stream to hold on the host side.)"""
    guest = _guests.get(asyncio.get_running_loop())
    if guest is None or not guest.ready.done() or guest.done.done():
        guest = await _guest_for_running_loop()
    call = _GuestCall(guest, app, scope, receive, send)
    guest.spawn(call.run)
    try:
        await call.finished
    except asyncio.CancelledError:
        call.cancel_scope.cancel()  # synchronous trio calls are allowed from host code here
        while call.result is None:  # the trio task unwinds; then it resolves a fresh future
            call.finished = guest.loop.create_future()
            with contextlib.suppress(asyncio.CancelledError):
                await call.finished
        raise
    result = call.result
    if isinstance(result, outcome.Error) and isinstance(result.error, trio.Cancelled):
        raise RuntimeError("the trio guest run was stopped while handling a request")
    assert result is not None  # the future is resolved only once the result is in
    result.unwrap()


class _GuestCall:
    """One ASGI call shared by its host task and its trio task: one object with slots, not
    closures and a shielded future, since an open stream holds it for its whole life."""

    __slots__ = (
        "app", "cancel_scope", "finished", "guest", "receive", "result", "scope", "send",
        "step_send",
    )  # fmt: skip

    def __init__(
        self, guest: _Guest, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.guest = guest
        self.app = app
        self.scope = scope
        self.receive = HostReceive(guest, receive)
        self.send = send
        self.step_send = _server_own(send)
        self.cancel_scope = trio.CancelScope()
        self.finished: asyncio.Future[None] = guest.loop.create_future()
        self.result: outcome.Outcome[None] | None = None

    async def run(self) -> None:
        with self.cancel_scope:
            try:
                await self.app(self.scope, self.receive, self.trio_send)
            except BaseException as exc:  # Cancelled included: the host task reads it
                self.result = outcome.Error(exc)
            else:
                self.result = outcome.Value(None)
        _resolve(self.finished, None)

    async def trio_send(self, message: Message) -> None:
        send = functools.partial(self.send, message)
        await self.guest.await_host(send, step_first=self.step_send)


async def _lifespan_in_guest(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the app's lifespan in trio, then stop the guest before reporting shutdown complete."""
    guest = await _guest_for_running_loop()
    held: list[Message] = []

    async def send_holding_shutdown(message: Message) -> None:
        if message["type"].startswith("lifespan.shutdown."):
            held.append(message)
        else:
            await send(message)

    await run_in_guest(app, scope, receive, send_holding_shutdown)
    if held:
        await guest.stop()
        await send(held[-1])


class TrioASGI:
    """Make a trio-native ASGI app callable from trio *and* asyncio servers (one object).

    Under trio the call goes straight through; under asyncio it runs in the loop's guest run.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if in_trio():
            await self.app(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await _lifespan_in_guest(self.app, scope, receive, send)
        else:
            await run_in_guest(self.app, scope, receive, send)


def run_as_asyncio_guest(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Like ``trio.run(fn, *args)``, but with asyncio as the host and trio as its guest.

    For pages whose queries await asyncio libraries outside a server (``engine render``,
    scripts): the render keeps trio's semantics, and asyncio queries find a running loop.
    Ctrl-C (asyncio cancels its main task) cancels the trio run and waits for it to unwind.
    """

    async def host() -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[outcome.Outcome[T]] = loop.create_future()
        scope = trio.CancelScope()

        async def guest() -> T:
            with scope:
                return await fn(*args)
            raise KeyboardInterrupt  # the host was cancelled (Ctrl-C) and so was the render

        trio.lowlevel.start_guest_run(
            guest,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=lambda result: _resolve(done, result),
            host_uses_signal_set_wakeup_fd=True,
        )
        try:
            result = await asyncio.shield(done)
        except asyncio.CancelledError:
            scope.cancel()
            while not done.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(done)
            raise
        return result.unwrap()

    return asyncio.run(host())
