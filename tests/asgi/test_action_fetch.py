"""Actions submitted by the runtime (``X-Engine-Request: action``): the answer streams only what
the action changed, in the page's wire vocabulary, after the same guards as every POST."""

from __future__ import annotations

import re

import actions_site
import httpx
import pytest
from test_actions import ORIGIN, client_for, token_of

FETCH = {"origin": ORIGIN, "x-engine-request": "action"}


@pytest.fixture(autouse=True)
def _empty_lists() -> None:
    actions_site.LISTS.clear()


async def fetch_post(client: httpx.AsyncClient, token: str, path: str, **fields: str):
    return await client.post(path, data={"_token": token, **fields}, headers=FETCH)


def templates(body: str) -> list[str]:
    return re.findall(r'<template for="([^"]+)">', body)


async def test_the_answer_streams_only_the_changed_fragments_and_data() -> None:
    async with client_for() as client:
        token = await token_of(client, "/boards/a")
        renders = actions_site.NOTES["renders"]
        done = await fetch_post(client, token, "/boards/a", _action="add", item="milk", qty="2")
        assert done.status_code == 200
        assert "X-Engine-Request" in done.headers.get_list("vary", split_commas=True)
        assert done.headers["content-type"] == "text/html; charset=utf-8"
        assert re.match(r"last_added=milk;", done.headers["set-cookie"]), "the action's cookie"
        body = done.text
        # Each as soon as it is ready (their order under MockClock: test_action_timeline.py).
        assert sorted(templates(body)) == ["badge", "form", "list"], "not the note"
        assert actions_site.NOTES["renders"] == renders, "the untouched note did not run"
        assert "<!doctype" not in body and "</body>" not in body, "no shell"
        assert body.index('data-query="total">1</script>') < body.index('<template for="badge">')
        assert '<ul id="items"><li>2 x milk</li></ul>' in body
        assert 'name="item" value=""' in body, "a fresh form after a success"
        assert body.endswith("<script>$E()</script>")
        assert body.count("<script>$E()</script>") >= 1
        for write in body.split("<script>$E()</script>")[:-1]:
            assert write, "no empty write"


async def test_a_validation_error_streams_the_form_alone_with_422_and_the_input_kept() -> None:
    async with client_for() as client:
        token = await token_of(client, "/boards/a")
        failed = await fetch_post(client, token, "/boards/a", _action="add", item="tea", qty="x")
        assert failed.status_code == 422
        assert templates(failed.text) == ["form"]
        assert 'name="item" value="tea"' in failed.text
        assert 'id="qty-error">Expected `int`, got `str`</span>' in failed.text
        assert actions_site.LISTS == {}


async def test_a_redirect_is_told_to_the_runtime_not_followed() -> None:
    async with client_for() as client:
        token = await token_of(client, "/boards/a")
        done = await fetch_post(client, token, "/boards/a", _action="clear")
        assert done.status_code == 204 and done.text == ""
        assert done.headers["x-engine-location"] == "/lists/a?cleared=1"
        assert "location" not in done.headers


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/boards/a", {"origin": "https://evil.example"}, 403),
        ("/boards/a", {"sec-fetch-site": "cross-site"}, 403),
        ("/boards/missing", {}, 404),
    ],
)
async def test_every_guard_holds_for_the_runtime_too(path, headers, status) -> None:
    async with client_for() as client:
        token = await token_of(client, "/boards/a")
        refused = await client.post(
            path,
            data={"_token": token, "_action": "add", "item": "x"},
            headers={**FETCH, **headers},
        )
        assert refused.status_code == status
        assert "<template" not in refused.text
        assert actions_site.LISTS == {}


async def test_the_token_may_come_in_the_header() -> None:
    async with client_for() as client:
        token = await token_of(client, "/boards/a")
        done = await client.post(
            "/boards/a",
            data={"_action": "add", "item": "tea"},
            headers={**FETCH, "x-engine-token": token},
        )
        assert done.status_code == 200 and actions_site.LISTS == {"a": ["1 x tea"]}
