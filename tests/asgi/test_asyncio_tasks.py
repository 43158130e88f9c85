"""An asyncio query under an asyncio host costs one asyncio task, and no trio task of its own:
one trio task per render (the keeper) makes the calls, holds the render open while they run,
and writes nothing before the shell."""

from __future__ import annotations

import asyncio

import trio

import engine
from engine import Fragment, Page, Query, Shell
from engine.asgi._guest import run_as_asyncio_guest
from engine.resolution.bridge import run_on_asyncio

COUNT = 20


def waiting_page(
    started: list[str], release: asyncio.Event, all_started: asyncio.Event | None = None
) -> Page:
    def call(i: int) -> object:
        @engine.on_asyncio
        async def fetch() -> str:
            started.append(f"q{i}")
            if len(started) == COUNT and all_started is not None:
                all_started.set()
            await release.wait()
            return f"value {i}"

        return fetch

    slots = "".join(f'<?marker name="s{i}">' for i in range(COUNT))
    return Page(
        name="waiting",
        shell=Shell(html=f"<!doctype html><p>{slots}</p>"),
        queries=tuple(Query(name=f"q{i}", call=call(i), result=str) for i in range(COUNT)),
        fragments=tuple(
            Fragment(target=f"s{i}", uses=(f"q{i}",), template=f"{{{{ q{i} }}}}")
            for i in range(COUNT)
        ),
    )


def task_names(task: trio.lowlevel.Task) -> list[str]:
    return [
        name
        for nursery in task.child_nurseries
        for child in nursery.child_tasks
        for name in (child.name, *task_names(child))
    ]


def test_asyncio_queries_take_one_trio_task_per_render_not_one_each() -> None:
    started: list[str] = []
    chunks: list[bytes] = []

    async def sink(data: bytes) -> None:
        chunks.append(data)

    async def main() -> tuple[list[str], list[str], bytes]:
        release, all_started = asyncio.Event(), asyncio.Event()
        page = waiting_page(started, release, all_started)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.render, page, sink)
            await run_on_asyncio(all_started.wait)
            trio_tasks = task_names(trio.lowlevel.current_task())
            host_tasks = sorted(t.get_name() for t in asyncio.all_tasks() if not t.done())
            release.set()
        return trio_tasks, host_tasks, b"".join(chunks)

    trio_tasks, host_tasks, html = run_as_asyncio_guest(main)
    assert [n for n in trio_tasks if n.startswith("query ")] == [], "no trio task per query"
    assert trio_tasks.count("asyncio queries") == 1
    assert [n for n in host_tasks if n.startswith("query ")] == sorted(
        f"query q{i}" for i in range(COUNT)
    )
    for i in range(COUNT):
        assert f"value {i}".encode() in html


def test_the_shell_is_written_before_any_asyncio_query_takes_its_first_step() -> None:
    # A write that goes through the host loop (a middleware's send is an asyncio task) is
    # queued before the calls' first steps: the keeper makes them only when trio runs it.
    order: list[str] = []

    async def sink(data: bytes) -> None:
        async def write() -> None:
            order.append("shell" if not order else "write")

        await run_on_asyncio(write, what="write")

    async def main() -> None:
        release = asyncio.Event()
        release.set()
        await engine.render(waiting_page(order, release), sink)

    run_as_asyncio_guest(main)
    assert order[0] == "shell", order[:3]
    assert sorted(order[1 : COUNT + 1]) == sorted(f"q{i}" for i in range(COUNT))
