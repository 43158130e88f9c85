"""A page whose query returns a lone surrogate (what ``json.loads('"\\ud800"')`` or
``os.fsdecode`` of a non-UTF-8 name give), for the served-surrogate tests."""

from __future__ import annotations

import json

import trio

import engine
from engine.asgi import App


async def caption() -> str:
    await trio.lowlevel.checkpoint()
    return json.loads('"broken \\ud800 caption"')


async def title() -> str:
    await trio.lowlevel.checkpoint()
    return "fine title"


page = engine.Page(
    name="surrogate",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>'
        '</head><body><h1 id="title">{{ title }}</h1><div><?marker name="caption"></div>'
        "</body></html>",
        queries=("title",),
    ),
    queries=(
        engine.Query(name="title", call=title, result=str),
        engine.Query(name="caption", call=caption, result=str),
    ),
    fragments=(
        engine.Fragment(
            target="caption",
            uses=("caption",),
            template='<p id="caption">{{ caption }}</p>',
            fallback="<p>loading…</p>",
        ),
    ),
)

app = App({"/": page})
