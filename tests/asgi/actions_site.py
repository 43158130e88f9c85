"""A page with actions (a shared list per name): served in process and by real servers."""

from __future__ import annotations

import os
from typing import Annotated

import msgspec
from markupsafe import escape

import engine
from engine import Action, Fragment, Page, Query, Request, Response, Shell
from engine.asgi import App

LISTS: dict[str, list[str]] = {}


class AddItem(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    item: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    qty: Annotated[int, msgspec.Meta(ge=1)] = 1
    tags: list[str] = []


def owner(list_id: str) -> str:
    """The guard: only the lists that exist have a page (and actions)."""
    if list_id == "missing":
        raise engine.NotFound(f"no list {list_id}")
    return list_id


def items(list_id: str) -> list[str]:
    return list(LISTS.get(list_id, ()))


async def add(data: AddItem, request: Request, response: Response) -> None:
    LISTS.setdefault(request.path_params["list_id"], []).append(
        f"{data.qty} x {data.item}" + "".join(f" #{t}" for t in data.tags)
    )
    response.set_cookie("last_added", data.item)


def clear(request: Request) -> engine.Redirect:
    """A sync action (runs in a worker thread) that says where to go next."""
    LISTS.pop(request.path_params["list_id"], None)
    return engine.Redirect(f"/lists/{request.path_params['list_id']}?cleared=1")


def offsite() -> engine.Redirect:
    return engine.Redirect("https://elsewhere.example/")


async def boom() -> None:
    raise RuntimeError("database password is hunter2")


DOC = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{{ owner }}</title></head>'
    '<body><h1>{{ owner }}</h1><div><?marker name="list"></div>'
    '<div><?marker name="form"></div></body></html>'
)


def list_html(items: list[str]) -> str:
    rows = "".join(str(engine.html("<li>{{ i }}</li>", i=i)) for i in items)
    return f'<ul id="items">{rows}</ul>'


def form_html(form: engine.FormState) -> str:
    """The form: the token, the submitted values kept, each field's error beside it."""

    def field(name: str, default: str = "") -> str:
        value, error = form.values.get(name, default), form.errors.get(name, "")
        return (
            f'<input name="{name}" value="{escape(value)}">'
            f'<span class="error" id="{name}-error">{escape(error)}</span>'
        )

    return (
        f'<form method="post" id="add"><input type="hidden" name="_token"'
        f' value="{escape(form.token)}">{field("item")}{field("qty", "1")}'
        '<button name="_action" value="add">Add</button></form>'
    )


LIST_PAGE = Page(
    name="list",
    shell=Shell(html=DOC, queries=("owner",)),
    queries=(
        Query(name="owner", call=owner, result=str, params=("list_id",)),
        Query(name="items", call=items, result=list[str], params=("list_id",)),
        Query(name="form", call=engine.form_state, result=engine.FormState),
    ),
    fragments=(
        Fragment(target="list", uses=("items",), render=list_html),
        Fragment(target="form", uses=("form",), render=form_html),
    ),
    actions=(
        Action(name="add", call=add, input=AddItem, invalidates=("items",)),
        Action(name="clear", call=clear, invalidates=("items",)),
        Action(name="offsite", call=offsite),
        Action(name="boom", call=boom),
    ),
)

NOTES = {"renders": 0}


def total(items: list[str]) -> int:
    return len(items)


def note() -> int:
    """Untouched by every action: it counts its own renders (an action response runs it not)."""
    NOTES["renders"] += 1
    return NOTES["renders"]


BOARD_DOC = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{{ owner }}</title></head>'
    '<body><h1>{{ owner }}</h1><nav><?marker name="badge"></nav><div><?marker name="list"></div>'
    '<aside><?marker name="note"></aside><div><?marker name="form"></div></body></html>'
)

BOARD_PAGE = Page(
    name="board",
    shell=Shell(html=BOARD_DOC, queries=("owner",)),
    queries=(
        Query(name="owner", call=owner, result=str, params=("list_id",)),
        Query(name="items", call=items, result=list[str], params=("list_id",)),
        Query(name="total", call=total, result=int, depends_on=("items",), expose=True),
        Query(name="note", call=note, result=int),
        Query(name="form", call=engine.form_state, result=engine.FormState),
    ),
    fragments=(
        Fragment(
            target="badge",
            uses=("total",),
            render=lambda total: engine.html('<b id="badge">{{ n }}</b>', n=total),
            priority="high",
        ),
        Fragment(target="list", uses=("items",), render=list_html),
        Fragment(
            target="note",
            uses=("note",),
            render=lambda note: engine.html('<p id="note">render {{ n }}</p>', n=note),
        ),
        Fragment(target="form", uses=("form",), render=form_html),
    ),
    actions=(
        Action(name="add", call=add, input=AddItem, invalidates=("items",)),
        Action(name="clear", call=clear, invalidates=("items",)),
        Action(name="boom", call=boom),
    ),
)

PLAIN = Page(name="plain", shell=Shell(html="<!doctype html><title>plain</title><p>plain</p>"))

PAGES = {"/lists/{list_id}": LIST_PAGE, "/boards/{list_id}": BOARD_PAGE, "/plain": PLAIN}

app = App(PAGES, csp=os.environ.get("ACTIONS_CSP") or None)
"""``ACTIONS_CSP=nonce`` or ``hash``: a strict Content-Security-Policy (the browser tests)."""
