"""The wire format's building blocks, byte for byte as docs/wire.md specifies them."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

import pytest

from engine.wire import format as w


def _sha256(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()


def test_slot_syntax() -> None:
    assert w.start("a-b") == '<?start name="a-b">'
    assert w.END == "<?end>"
    assert w.marker("a_b") == '<?marker name="a_b">'


@pytest.mark.parametrize(
    ("context", "opening", "closing"),
    [
        ("flow", '<template for="x">', "</template>"),
        ("table", '<template for="x">', "</template>"),
        ("svg", '<template for="x"><svg>', "</svg></template>"),
        ("math", '<template for="x"><math>', "</math></template>"),
    ],
)
def test_templates_keep_a_foreign_root(context: str, opening: str, closing: str) -> None:
    assert w.template_open("x", context) == opening
    assert w.template_close(context) == closing
    assert w.slot_template("x", context) == (
        f'{opening}<?start name="x">',
        f"<?end>{closing}",
    )


def test_templates_default_to_flow_content() -> None:
    assert w.template_open("x") == '<template for="x">'
    assert w.template_close() == "</template>"
    assert w.slot_template("x") == ('<template for="x"><?start name="x">', "<?end></template>")


def test_scripts_without_a_nonce() -> None:
    wire = w.Wire()
    assert wire.nonce is None
    assert wire.runtime() == f"<script>{w.RUNTIME_JS}</script>"
    assert wire.swap() == "<script>$E()</script>"


def test_scripts_carry_the_nonce() -> None:
    wire = w.Wire("abcDEF12+/_=-")
    assert wire.nonce == "abcDEF12+/_=-"
    assert wire.runtime() == f'<script nonce="abcDEF12+/_=-">{w.RUNTIME_JS}</script>'
    assert wire.swap() == '<script nonce="abcDEF12+/_=-">$E()</script>'


@pytest.mark.parametrize("nonce", ["a" * 8, "Z" * 256, "0123456789+/=_-"])
def test_nonce_lengths_and_alphabet_accepted(nonce: str) -> None:
    assert w.Wire(nonce).swap() == f'<script nonce="{nonce}">$E()</script>'


@pytest.mark.parametrize(
    "nonce",
    [
        "",
        "a" * 7,
        "a" * 257,
        'abcdefgh"><script>alert(1)</script>',  # a valid prefix, then markup
        "abcdefgh\n",  # re.match with $ accepted this one
        "abcdefgh ",
        " abcdefgh",
        "abcd efgh",
        "abcdéfgh",
    ],
)
def test_nonce_rejected_unless_wholly_valid(nonce: str) -> None:
    with pytest.raises(ValueError) as caught:
        w.Wire(nonce)
    assert str(caught.value) == "a CSP nonce is 8-256 characters of base64 or base64url"


def test_script_hashes_are_those_of_the_scripts_sent() -> None:
    expected = (_sha256(w.RUNTIME_JS), _sha256(w.SWAP_JS), _sha256(w.NAVIGATE_JS))
    assert (*expected, _sha256(w.ACTIONS_JS)) == w.SCRIPT_HASHES
    wire = w.Wire(actions=True)  # a page with actions: its forms' script follows the others
    sent = re.findall(r"<script[^>]*>(.*?)</script>", wire.runtime("all") + wire.swap(), re.S)
    assert sent == [w.RUNTIME_JS, w.NAVIGATE_JS, w.ACTIONS_JS, w.SWAP_JS]
    assert {_sha256(s) for s in sent} == set(w.SCRIPT_HASHES)
    assert w.Wire().runtime() == f"<script>{w.RUNTIME_JS}</script>", "no actions, no script"
    assert w._hash("$E()") == _sha256("$E()")


def test_runtime_is_the_source_without_comments_blank_lines_or_indentation() -> None:
    source = resources.files("engine.wire").joinpath("runtime.js").read_text("utf-8")
    expected = [
        line.strip()
        for line in source.splitlines()
        if line.strip() and not line.strip().startswith("//")
    ]
    assert w.RUNTIME_JS.split("\n") == expected
    assert w._minify("  a();\n\n  // note\n\tb(); // kept\n//\n") == "a();\nb(); // kept"


def test_every_script_is_read_from_its_file_in_the_package() -> None:
    # The constants are read once, at import; _script itself must read the named file.
    scripts = {"runtime.js": w.RUNTIME_JS, "navigate.js": w.NAVIGATE_JS, "actions.js": w.ACTIONS_JS}
    assert {name: w._script(name) for name in scripts} == scripts
    assert len(set(scripts.values())) == 3


def test_navigation_names_its_setting_on_its_own_script() -> None:
    runtime, navigate = f"{w.RUNTIME_JS}</script>", f"{w.NAVIGATE_JS}</script>"
    assert w.Wire().runtime("marked") == (
        f'<script>{runtime}<script data-navigation="marked">{navigate}'
    )
    assert w.Wire("abcdefgh", actions=True).runtime("all") == (
        f'<script nonce="abcdefgh">{runtime}'
        f'<script data-navigation="all" nonce="abcdefgh">{navigate}'
        f'<script nonce="abcdefgh">{w.ACTIONS_JS}</script>'
    )


def test_data_is_safe_json_named_by_query_and_batch() -> None:
    wire = w.Wire("abcdefgh")  # data is not a script to run: it carries no nonce
    assert wire.data("q", {"t": "</script><!--"}) == (
        '<script type="application/json" data-query="q">'
        '{"t":"\\u003c/script\\u003e\\u003c!--"}</script>'
    )
    assert wire.data("rows", [1], batch=0) == (
        '<script type="application/json" data-query="rows" data-batch="0">[1]</script>'
    )
    assert wire.data("rows", [2], batch=3).count('data-batch="3"') == 1


def test_stylesheet_href_is_escaped() -> None:
    assert w.Wire().stylesheet('/s.css?a=1&b="><script>') == (
        '<link rel="stylesheet" href="/s.css?a=1&amp;b=&#34;&gt;&lt;script&gt;">'
    )


def test_failed_marker() -> None:
    assert w.FAILED == "<!--engine:failed-->"
