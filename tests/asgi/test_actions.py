"""Actions without JavaScript: a plain form POSTs to its page, the action runs, then 303 (or
422 with the errors and the input kept); cross-site, tokenless, oversized and unknown POSTs are
refused before anything of the page runs, and the page's shell queries guard actions as they
guard the page."""

from __future__ import annotations

import asyncio
import logging
import re

import actions_site
import httpx
import msgspec
import pytest
import trio

import engine
from engine.asgi import App

ORIGIN = "http://testserver"


@pytest.fixture(autouse=True)
def _empty_lists() -> None:
    actions_site.LISTS.clear()


def client_for(app: App = actions_site.app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


async def token_of(client: httpx.AsyncClient, path: str = "/lists/a") -> str:
    page = await client.get(path)
    assert page.status_code == 200
    token = page.cookies.get("engine_form_token") or client.cookies["engine_form_token"]
    assert f'name="_token" value="{token}"' in page.text, "the form renders the token"
    return token


async def post(client: httpx.AsyncClient, token: str, path: str = "/lists/a", **fields: str):
    return await client.post(path, data={"_token": token, **fields}, headers={"origin": ORIGIN})


async def test_a_form_post_runs_the_action_then_redirects_to_the_page_which_renders_fresh() -> None:
    async with client_for() as client:
        token = await token_of(client)
        done = await post(client, token, _action="add", item="milk", qty="2")
        assert done.status_code == 303 and done.headers["location"] == "/lists/a"
        assert actions_site.LISTS == {"a": ["2 x milk"]}
        page = await client.get(done.headers["location"])
        assert '<ul id="items"><li>2 x milk</li></ul>' in page.text


async def test_the_action_sets_a_cookie_and_a_repeated_field_fills_a_list() -> None:
    async with client_for() as client:
        token = await token_of(client)
        done = await client.post(
            "/lists/a",
            content=f"_token={token}&_action=add&item=tea&tags=hot&tags=green",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 303
        assert re.match(
            r"last_added=tea; HttpOnly; Path=/; SameSite=Lax", done.headers["set-cookie"]
        )
        assert actions_site.LISTS == {"a": ["1 x tea #hot #green"]}


async def test_an_action_may_say_where_to_go_but_only_on_this_site(caplog) -> None:
    async with client_for() as client:
        token = await token_of(client)
        done = await post(client, token, _action="clear")  # a sync action, in a thread
        assert done.status_code == 303 and done.headers["location"] == "/lists/a?cleared=1"
        caplog.set_level(logging.ERROR, "engine")
        away = await post(client, token, _action="offsite")
        assert away.status_code == 500 and "location" not in away.headers
        assert "elsewhere.example" not in away.text
        logged = "page 'list': action 'offsite': redirect to 'https://elsewhere.example/' refused"
        assert logged in caplog.text


async def test_invalid_input_re_renders_the_page_with_errors_and_the_input_kept() -> None:
    async with client_for() as client:
        token = await token_of(client)
        page = await post(client, token, _action="add", item="<b>milk</b>", qty="lots")
        assert page.status_code == 422
        assert '<input name="item" value="&lt;b&gt;milk&lt;/b&gt;">' in page.text
        assert '<input name="qty" value="lots">' in page.text
        assert '<span class="error" id="qty-error">Expected `int`, got `str`</span>' in page.text
        assert actions_site.LISTS == {}, "the action did not run"
        missing = await post(client, token, _action="add", qty="2")
        assert missing.status_code == 422
        assert (
            '<span class="error" id="item-error">Object missing required field `item`</span>'
            in missing.text
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": ORIGIN},
    ],
)
async def test_a_cross_site_post_is_refused(headers) -> None:
    async with client_for() as client:
        token = await token_of(client)
        refused = await client.post(
            "/lists/a", data={"_token": token, "_action": "add", "item": "x"}, headers=headers
        )
        assert refused.status_code == 403 and "Cross-site" in refused.text
        assert actions_site.LISTS == {}


@pytest.mark.parametrize("sent", [None, "", "forged-" + "x" * 40])
async def test_a_post_without_the_matching_token_is_refused(sent) -> None:
    async with client_for() as client:
        await token_of(client)
        fields = {"_action": "add", "item": "x"} | ({} if sent is None else {"_token": sent})
        refused = await client.post("/lists/a", data=fields, headers={"origin": ORIGIN})
        assert refused.status_code == 403 and actions_site.LISTS == {}


async def test_a_token_without_its_cookie_is_refused() -> None:
    async with client_for() as client:
        token = await token_of(client)
        client.cookies.clear()
        refused = await post(client, token, _action="add", item="x")
        assert refused.status_code == 403 and actions_site.LISTS == {}


async def test_a_body_over_the_limit_is_refused() -> None:
    small = App(actions_site.PAGES, action_max_bytes=200)
    async with client_for(small) as client:
        token = await token_of(client)
        assert (await post(client, token, _action="add", item="x" * 40)).status_code == 303
        refused = await post(client, token, _action="add", item="x" * 200)
        assert refused.status_code == 413 and actions_site.LISTS == {"a": ["1 x " + "x" * 40]}


async def test_a_streamed_body_over_the_limit_is_refused_without_a_content_length() -> None:
    small = App(actions_site.PAGES, action_max_bytes=200)

    async def chunks():
        for _ in range(10):
            yield b"item=" + b"x" * 30 + b"&"

    async with client_for(small) as client:
        refused = await client.post(
            "/lists/a?_action=add",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert "content-length" not in refused.request.headers
        assert refused.status_code == 413


@pytest.mark.parametrize(
    ("fields", "status"),
    [({"_action": "nope"}, 400), ({}, 400)],
)
async def test_an_unknown_or_missing_action_is_a_bad_request(fields, status) -> None:
    async with client_for() as client:
        token = await token_of(client)
        answer = await post(client, token, **fields)
        assert answer.status_code == status and actions_site.LISTS == {}


async def test_a_page_without_actions_still_refuses_post_with_allow() -> None:
    async with client_for() as client:
        plain = await client.post("/plain", data={"a": "1"})
        assert plain.status_code == 405 and plain.headers["allow"] == "GET, HEAD"
        put = await client.put("/lists/a", content=b"")
        assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD, POST"


async def test_a_shell_query_that_refuses_the_page_refuses_its_actions_too() -> None:
    async with client_for() as client:
        token = await token_of(client)
        blocked = await post(client, token, "/lists/missing", _action="add", item="x")
        assert blocked.status_code == 404 and "no list missing" in blocked.text
        assert actions_site.LISTS == {}, "the guard ran before the action"


async def test_an_action_that_raises_gets_the_500_page_and_one_log_line(caplog) -> None:
    caplog.set_level(logging.ERROR, "engine")
    async with client_for() as client:
        token = await token_of(client)
        failed = await post(client, token, _action="boom")
        assert failed.status_code == 500 and "hunter2" not in failed.text
        assert "RuntimeError" not in failed.text
        assert "page 'list': action 'boom': RuntimeError: database password is hunter2" in (
            caplog.text
        )


async def test_json_input_sends_the_token_in_a_header() -> None:
    async with client_for() as client:
        token = await token_of(client)
        done = await client.post(
            "/lists/a?_action=add",
            json={"item": "jam", "qty": 3},
            headers={"x-engine-token": token, "origin": ORIGIN},
        )
        assert done.status_code == 303 and actions_site.LISTS == {"a": ["3 x jam"]}
        wrong = await client.post(
            "/lists/a?_action=add",
            json={"item": "jam", "qty": "3"},
            headers={"x-engine-token": token},
        )
        assert wrong.status_code == 422, "JSON is strict, as a query's JSON result is"


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    sent: list[dict] = []

    async def receive() -> dict:
        assert sent, "the body was read before the answer"
        await trio.sleep_forever()  # only the app's disconnect watcher asks after that

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/lists/a",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"1000000000"),
        ],
    }
    await actions_site.app(scope, receive, send)
    assert sent[0]["status"] == 413


async def test_an_empty_optional_field_that_is_not_text_keeps_its_default() -> None:
    async with client_for() as client:
        token = await token_of(client)
        done = await post(client, token, _action="add", item="salt", qty="")
        assert done.status_code == 303 and actions_site.LISTS == {"a": ["1 x salt"]}
        blank_text = await post(client, token, _action="add", item="", qty="2")
        assert blank_text.status_code == 422, "an empty text field is still text: too short"


def test_an_asyncio_action_runs_on_the_loop_that_hosts_the_engine() -> None:
    """``@engine.on_asyncio``: an action awaiting asyncio libraries runs as a task of the host
    loop (uvicorn's), the engine's trio run being its guest, like such queries do."""
    ran_on: list[asyncio.AbstractEventLoop] = []

    @engine.on_asyncio
    async def add_on_asyncio(data: actions_site.AddItem, request: engine.Request) -> None:
        await asyncio.sleep(0)  # an asyncio primitive: under trio this would not run
        ran_on.append(asyncio.get_running_loop())
        actions_site.LISTS.setdefault(request.path_params["list_id"], []).append(data.item)

    page = msgspec.structs.replace(
        actions_site.LIST_PAGE,
        actions=(engine.Action(name="add", call=add_on_asyncio, input=actions_site.AddItem),),
    )

    async def main() -> tuple[httpx.Response, asyncio.AbstractEventLoop]:
        async with client_for(App({"/lists/{list_id}": page})) as client:
            done = await post(client, await token_of(client), _action="add", item="milk")
        return done, asyncio.get_running_loop()

    done, host = asyncio.run(main())
    assert done.status_code == 303 and done.headers["location"] == "/lists/a"
    assert ran_on == [host]
    assert actions_site.LISTS == {"a": ["milk"]}
