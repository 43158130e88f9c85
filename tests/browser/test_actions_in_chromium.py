"""A plain form with JavaScript off, in Debian's Chromium: the action runs and the page comes
back (303) with its effect; invalid input comes back 422 with the errors beside the kept input;
a form on another origin posting to the page is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ServerProcess, actions_server


@pytest.fixture(scope="module")
def lists_site(tmp_path_factory) -> Iterator[ServerProcess]:
    server = actions_server(Path(tmp_path_factory.mktemp("actions")))
    yield server
    server.stop()


def test_a_form_without_javascript_runs_its_action(lists_site, new_page) -> None:
    page = new_page(javascript=False)
    address = f"{lists_site.url}/lists/chromium?mode=in-order"
    page.goto(address, wait_until="load", timeout=10_000)
    page.fill("input[name=item]", "apples")
    page.fill("input[name=qty]", "2")
    with page.expect_navigation(wait_until="load", timeout=10_000):
        page.click("button[name=_action][value=add]")
    assert page.url == address, "redirected back to the page (303), query string kept"
    assert page.inner_text("#items") == "2 x apples"
    assert page.input_value("input[name=item]") == "", "the fresh page's form is empty"

    page.fill("input[name=item]", "pears")
    page.fill("input[name=qty]", "lots")
    with page.expect_navigation(wait_until="load", timeout=10_000) as navigation:
        page.click("button[name=_action][value=add]")
    assert navigation.value.status == 422
    assert page.input_value("input[name=item]") == "pears", "the input is kept"
    assert page.input_value("input[name=qty]") == "lots"
    assert page.inner_text("#qty-error") == "Expected `int`, got `str`"
    assert page.inner_text("#items") == "2 x apples", "the action did not run"


def test_a_form_on_another_origin_is_refused(lists_site, new_page) -> None:
    page = new_page(javascript=False)
    other_site = f"http://localhost:{lists_site.port}/plain"  # not 127.0.0.1: another site
    page.goto(other_site, wait_until="load", timeout=10_000)
    page.set_content(  # the hostile page, on that other origin
        f'<form method="post" action="{lists_site.url}/lists/target">'
        '<input name="_action" value="add"><input name="item" value="spam">'
        '<button id="go">go</button></form>'
    )
    with page.expect_navigation(wait_until="load", timeout=10_000) as navigation:
        page.click("#go")
    assert navigation.value.status == 403
    assert "Cross-site form submissions are refused." in page.inner_text("body")
    page.goto(f"{lists_site.url}/lists/target", wait_until="load", timeout=10_000)
    assert page.inner_text("#items") == ""
