"""The app's resources over its lifetime: entered at lifespan startup, closed at shutdown.

Each worker process runs its own lifespan, so under ``engine serve --workers N`` every worker
has its own database pool and HTTP client. Servers that send no lifespan events to the app
(a Starlette ``Mount`` does not forward them) get the resources opened on first use, by a
task that holds them until the trio run ends.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import trio

from ..context.resources import ResourceError, Resources
from ..definition.graph import Graph
from ._guest import Receive, Send

log = logging.getLogger("engine.asgi")

_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move what the process holds once its app has started into the permanent generation.

    Every full collection traverses every tracked object: the modules, the pages' graphs,
    compiled templates, open pools. They live as long as the process, yet under load a
    worker walked them again every few dozen requests: on S2's page a quarter of its CPU
    time went to collections. Frozen, they are never walked again (``python -m
    bench.collector``: 60% less time collecting, 13% less CPU per page). Once per
    process, after a full collection, so no garbage is frozen with them; an object frozen
    here and dropped later is not reclaimed if it sits in a cycle, which is why only the
    first app's startup does it.
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


GC_THRESHOLD = 10_000
"""Net allocations between two young collections once an App has started
(``Options.gc_threshold``); Python's own is 700."""


def raise_gc_threshold(threshold: int) -> None:
    """Collect the young generation after ``threshold`` net allocations, if it was sooner.

    Python's 700 suits a script, not a server with dozens of renders in flight: a young
    collection came every few requests and found nothing to free (a finished render leaves
    no reference cycle, reference counting frees it whole: tests/asgi/test_garbage.py); it
    only moved the renders still in flight to the older generation, whose collections then
    walked them again. ``python -m bench.collector`` measures it per page.
    """
    young, *older = gc.get_threshold()
    if threshold > young:
        gc.set_threshold(threshold, *older)


class AppResources:
    """The open resources of every page an app serves (one registry may serve many pages)."""

    def __init__(self, graphs: Iterable[Graph], overrides: Mapping[str, Any] | None = None) -> None:
        self._overrides = dict(overrides or {})
        needed: dict[int, tuple[Resources, set[str]]] = {}
        declared: set[str] = set()
        for graph in graphs:
            if graph.resources is not None:
                declared.update(graph.resources.names)
            if graph.resources is not None and graph.resource_names:
                entry = needed.setdefault(id(graph.resources), (graph.resources, set()))
                entry[1].update(graph.resource_names - set(self._overrides))
        unknown = sorted(set(self._overrides) - declared)
        if unknown:
            raise KeyError(f"no page of this app declares resource {', '.join(unknown)}")
        self._needed = tuple(needed.values())
        self._open: dict[int, Mapping[str, Any]] = {}
        self._lifespan = False
        self._lazy: trio.Event | None = None
        self._lazy_run: trio.lowlevel.TrioToken | None = None
        self._lazy_failure: BaseException | None = None

    async def for_graph(self, graph: Graph) -> Mapping[str, Any] | None:
        """The open resources ``graph`` draws on (None if it needs none)."""
        if graph.resources is None or not graph.resource_names:
            return None
        if not self._lifespan:
            await self._open_without_lifespan()
        opened = self._open.get(id(graph.resources), {})
        return {**opened, **self._overrides} if self._overrides else opened

    async def lifespan(
        self,
        receive: Receive,
        send: Send,
        startup_problem: Callable[[], str | None],
        freeze_heap: bool = True,
        gc_threshold: int | None = GC_THRESHOLD,
    ) -> None:
        """Answer the ASGI lifespan protocol, holding the resources between its two events.

        ``startup_problem`` says why the app cannot serve on this host, if it cannot;
        ``freeze_heap``: see :func:`freeze_startup_heap`; ``gc_threshold``: see
        :func:`raise_gc_threshold`.
        """
        async with contextlib.AsyncExitStack() as stack:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    problem = startup_problem()
                    if problem is not None:
                        log.error("%s", problem)
                        await send({"type": "lifespan.startup.failed", "message": problem})
                        return
                    try:
                        await self._enter_all(stack)
                    except ResourceError as exc:
                        log.error("%s", exc.reason, exc_info=exc.__cause__)
                        await send({"type": "lifespan.startup.failed", "message": exc.reason})
                        return
                    self._lifespan = True
                    if freeze_heap:
                        freeze_startup_heap()
                    if gc_threshold is not None:
                        raise_gc_threshold(gc_threshold)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    try:
                        await stack.aclose()
                    except Exception as exc:
                        log.error("closing resources failed", exc_info=exc)
                        await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                        return
                    finally:
                        self._open.clear()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _enter_all(self, stack: contextlib.AsyncExitStack) -> None:
        for resources, names in self._needed:
            self._open[id(resources)] = await stack.enter_async_context(resources.open(names))

    async def _open_without_lifespan(self) -> None:
        token = trio.lowlevel.current_trio_token()
        if self._lazy is None or self._lazy_run is not token:
            self._lazy, self._lazy_run, self._lazy_failure = trio.Event(), token, None
            log.info("no lifespan events: opening the app's resources on first use")
            trio.lowlevel.spawn_system_task(self._hold, self._lazy, name="engine resources")
        await self._lazy.wait()
        if self._lazy_failure is not None:
            failure, self._lazy = self._lazy_failure, None  # the next request tries again
            raise ResourceError(str(failure), page="") from failure

    async def _hold(self, opened: trio.Event) -> None:
        """Hold the resources until the trio run ends (its system tasks are cancelled then)."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    await self._enter_all(stack)
                except ResourceError as exc:
                    self._lazy_failure = exc
                    return
                finally:
                    opened.set()
                await trio.sleep_forever()
        except Exception as exc:  # a system task must not raise: it would crash the run
            log.error("closing resources failed", exc_info=exc)
        finally:
            self._open.clear()
