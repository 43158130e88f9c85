"""An action that invalidates a query cached across requests: the page shown after it (the 303's
page without JavaScript, the streamed answer with it) has the new data, and the entry is
replaced, so later visitors are served the new value from the cache, not the old one."""

from __future__ import annotations

import re

import httpx
import msgspec
import trio
import trio.testing

import engine
from engine import Action, Fragment, Page, Query, Shell
from engine._render import render_changes
from engine.asgi import App

ORIGIN = "http://testserver"
NOTES: list[str] = []
CALLS: list[str] = []


class Note(msgspec.Struct):
    text: str


async def notes(board: str) -> list[str]:
    CALLS.append(board)
    return [*NOTES]


async def add(data: Note) -> None:
    NOTES.append(data.text)


def notes_html(notes: list[str]) -> str:
    return "<ul>" + "".join(str(engine.html("<li>{{ n }}</li>", n=n)) for n in notes) + "</ul>"


def form_html(form: engine.FormState) -> str:
    return str(
        engine.html('<form method="post"><input name="_token" value="{{ t }}">', t=form.token)
    )


PAGE = Page(
    name="board",
    shell=Shell(
        html='<!doctype html><html><head><meta charset="utf-8"></head><body>'
        '<div><?marker name="notes"></div><div><?marker name="form"></div></body></html>'
    ),
    queries=(
        Query(
            name="notes",
            call=notes,
            result=list[str],
            params=("board",),
            cache=engine.Cache(ttl=600),
        ),
        Query(name="form", call=engine.form_state, result=engine.FormState),
    ),
    fragments=(
        Fragment(target="notes", uses=("notes",), render=notes_html),
        Fragment(target="form", uses=("form",), render=form_html),
    ),
    actions=(Action(name="add", call=add, input=Note, invalidates=("notes",)),),
)


def fresh_app() -> App:
    NOTES.clear()
    CALLS.clear()
    return App({"/boards/{board}": PAGE}, cache=engine.MemoryStore())


async def token_of(client: httpx.AsyncClient) -> str:
    page = await client.get("/boards/a")
    assert page.status_code == 200
    return client.cookies["engine_form_token"]


def shown(body: str) -> list[str]:
    return re.findall(r"<li>([^<]*)</li>", body)


async def test_without_javascript_the_page_after_the_action_is_not_served_the_old_entry() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fresh_app()), base_url=ORIGIN
    ) as client:
        token = await token_of(client)
        assert CALLS == ["a"]
        done = await client.post(
            "/boards/a",
            data={"_token": token, "_action": "add", "text": "milk"},
            headers={"origin": ORIGIN},
        )
        assert done.status_code == 303
        assert CALLS == ["a", "a"], "the action renewed the entry before answering"
        assert shown((await client.get("/boards/a")).text) == ["milk"]
        assert shown((await client.get("/boards/a")).text) == ["milk"]
        assert CALLS == ["a", "a"], "the renewed entry serves the next visitors"


async def test_with_javascript_the_answer_and_the_next_visitors_get_the_new_value() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fresh_app()), base_url=ORIGIN
    ) as client:
        token = await token_of(client)
        done = await client.post(
            "/boards/a",
            data={"_token": token, "_action": "add", "text": "tea"},
            headers={"origin": ORIGIN, "x-engine-request": "action"},
        )
        assert done.status_code == 200
        assert shown(done.text) == ["tea"]
        assert shown((await client.get("/boards/a")).text) == ["tea"]
        assert CALLS == ["a", "a"]


async def test_entries_of_other_inputs_are_left_to_their_ttl() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fresh_app()), base_url=ORIGIN
    ) as client:
        token = await token_of(client)
        await client.get("/boards/b")
        await client.post(
            "/boards/a",
            data={"_token": token, "_action": "add", "text": "x"},
            headers={"origin": ORIGIN},
        )
        assert shown((await client.get("/boards/b")).text) == [], "b's entry is b's, still cached"
        assert CALLS == ["a", "b", "a"]


class Slow:
    """Answers with the data as it was when called: the first call takes 10 s, later ones 1 s."""

    def __init__(self) -> None:
        self.data = "old"
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        seen = self.data
        await trio.sleep(10 if self.calls == 1 else 1)
        return seen


def slow_page(call: Slow) -> Page:
    return Page(
        name="slow",
        shell=Shell(html='<!doctype html><html><body><p><?marker name="v"></p></body></html>'),
        queries=(Query(name="v", call=call, result=str, cache=engine.Cache(ttl=600)),),
        fragments=(Fragment(target="v", uses=("v",), template="[{{ v }}]"),),
        actions=(Action(name="set", call=add, input=Note, invalidates=("v",)),),
    )


async def test_a_call_from_before_the_action_neither_answers_it_nor_overwrites_it(
    autojump_clock,
) -> None:
    call, store = Slow(), engine.MemoryStore()
    page = slow_page(call)
    before, answer = bytearray(), bytearray()

    async def render_before() -> None:
        before.extend(await engine.render_to_bytes(page, mode="buffered", cache=store))

    async def collect(data: bytes) -> None:
        answer.extend(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(render_before)
        await trio.sleep(1)  # the first call is in the air with the old data
        call.data = "new"  # what the action did
        await render_changes(page, ["v"], collect, cache=store)
        assert b"[new]" in answer, "not the call in the air from before the action"
    assert b"[old]" in before, "the render from before still gets its own answer"
    assert trio.current_time() == 10
    after = await engine.render_to_bytes(page, mode="buffered", cache=store)
    assert b"[new]" in after, "the older call's answer did not overwrite the renewed entry"
    assert call.calls == 2
