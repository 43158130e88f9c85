"""A corpus of malformed page files: each is one clear error naming file and key, exit 1.

Every syntax, schema, graph and import mistake we could think of, in every format where
it can be written: each case runs ``engine check`` in-process under a time bound and
asserts the specific message (and that nothing else went wrong: no traceback, no hang,
no second error for one mistake).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from engine.cli import main

from .pagefiles import FORMATS, base_page, mutated, write, write_module

MOD = f"corpus_{uuid.uuid4().hex[:10]}"
"""The module every corpus page refers to (unique: sys.modules keeps modules for good)."""


@attrs.frozen
class Case:
    id: str
    expected: str
    """The message fragment the error must contain (keys included where there is one)."""
    change: Callable[[dict[str, Any]], object] | None = None
    """A mistake made to the valid base page (written in every format that can hold it)."""
    raw: Callable[[str], bytes] | None = None
    """Or the file's bytes themselves, per format."""
    formats: tuple[str, ...] = FORMATS
    errors: int = 1
    modules: tuple[tuple[str, str], ...] = ()
    """Extra modules the page imports: (name suffix, source)."""


def at(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set ``value`` at a dotted path (``queries.2.timeout``)."""

    def change(page: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = page
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(page: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = page
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[int(last) if last.isdigit() else last]

    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(page: dict[str, Any]) -> None:
        for one in changes:
            one(page)

    return change


def add_query(query: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda page: page["queries"].append(query)


def add_fragment(fragment: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda page: page["fragments"].append(fragment)


def rename_module(target: str) -> Callable[[dict[str, Any]], None]:
    def change(page: dict[str, Any]) -> None:
        for node in (*page["queries"], *page["fragments"]):
            for field in ("call", "result", "render"):
                if isinstance(node.get(field), str):
                    node[field] = node[field].replace(MOD, target)

    return change


SHELL = base_page(MOD)["shell"]["html"]
BATCHES = {"name": "b", "call": f"{MOD}:batches", "result": f"list[{MOD}:Item]"}

SCHEMA = [
    Case(
        "unknown-page-key",
        "$.modee: error: page 'items': unknown key 'modee' (did you mean 'mode'?)",
        at("modee", "buffered"),
    ),
    Case(
        "unknown-query-key",
        "$.queries[2].timout: error: page 'items' [count]: unknown key"
        " 'timout' (did you mean 'timeout'?)",
        at("queries.2.timout", 3),
    ),
    Case(
        "unknown-fragment-key",
        "$.fragments[0].fallbak: error: page 'items' [list]: unknown"
        " key 'fallbak' (did you mean 'fallback'?)",
        at("fragments.0.fallbak", "…"),
    ),
    Case(
        "unknown-shell-key",
        "$.shell.queris: error: page 'items': unknown key 'queris' (did you mean 'queries'?)",
        at("shell.queris", []),
    ),
    Case(
        "unknown-key-far-from-any",
        "$.queries[0].colour: error: page 'items' [title]: unknown key 'colour' (known: name,"
        " call, result, depends_on, params, resources, loaders, timeout, expose",
        at("queries.0.colour", "red"),
    ),
    Case("missing-name", "$.name: error: page 'page': missing required key 'name'", drop("name")),
    Case(
        "missing-shell", "$.shell: error: page 'items': missing required key 'shell'", drop("shell")
    ),
    Case(
        "missing-shell-html",  # 'html' may be empty (Jinja shells, pages under a layout)
        "$.fragments[0].target: error: page 'items' [list]: fills slot 'list', which appears in"
        " no shell or fragment",
        drop("shell.html"),
        errors=2,
    ),
    Case(
        "missing-call",
        "$.queries[1].call: error: page 'items' [items]: missing required key"
        " 'call': A Python callable, written as 'package.module:attribute'.",
        drop("queries.1.call"),
    ),
    Case(
        "missing-result",
        "$.queries[0].result: error: page 'items' [title]: missing required key 'result'",
        drop("queries.0.result"),
    ),
    Case(
        "missing-target",
        "$.fragments[2].target: error: page 'items': missing required key 'target'",
        drop("fragments.2.target"),
    ),
    Case(
        "quoted-timeout",
        "$.queries[2].timeout: error: page 'items' [count]: expected a"
        " number, got the string '2.5': write 2.5 without quotes",
        at("queries.2.timeout", "2.5"),
    ),
    Case(
        "negative-timeout",
        "$.queries[2].timeout: error: page 'items' [count]: Expected `float` > 0.0",
        at("queries.2.timeout", -1),
    ),
    Case(
        "zero-deadline",
        "$.deadline: error: page 'items': Expected `float` > 0.0",
        at("deadline", 0),
    ),
    Case(
        "boolean-priority",
        "$.fragments[0].priority: error: page 'items' [list]: Expected `int | str`, got `bool`",
        at("fragments.0.priority", True),
    ),
    Case(
        "unknown-priority",
        "$.fragments[0].priority: error: page 'items' [list]: invalid"
        " value 'urgent': expected one of 'high', 'low', 'normal' or an integer",
        at("fragments.0.priority", "urgent"),
    ),
    Case(
        "misspelled-priority",
        "invalid value 'hihg' (did you mean 'high'?)",
        at("fragments.0.priority", "hihg"),
    ),
    Case(
        "unknown-mode",
        "$.mode: error: page 'items': invalid value 'streaming': expected one"
        " of 'buffered', 'in-order', 'out-of-order'",
        at("mode", "streaming"),
    ),
    Case(
        "unknown-fragment-mode",
        "$.fragments[1].mode: error: page 'items' [summary]: invalid"
        " value 'prepend' (did you mean 'append'?)",
        at("fragments.1.mode", "prepend"),
    ),
    Case(
        "uses-a-string",
        "$.fragments[0].uses: error: page 'items' [list]: expected a list"
        " of names, got the string 'items': write [\"items\"]",
        at("fragments.0.uses", "items"),
    ),
    Case(
        "depends-on-a-string",
        "$.queries[2].depends_on: error: page 'items' [count]: expected a list of names",
        at("queries.2.depends_on", "items"),
    ),
    Case(
        "hyphen-in-query-name",
        "$.queries[0].name: error: page 'items' [bad-name]: 'bad-name'"
        " is not a query name: a Python identifier",
        at("queries.0.name", "bad-name"),
    ),
    Case(
        "digit-first-slot",
        "$.fragments[2].target: error: page 'items' [1st]: '1st' is not a slot name",
        at("fragments.2.target", "1st"),
    ),
    Case(
        "call-without-module",
        "$.queries[1].call: error: page 'items' [items]: 'items' is not"
        " a Python callable, written as 'package.module:attribute'",
        at("queries.1.call", "items"),
    ),
    Case(
        "expose-yes",
        "$.queries[1].expose: error: page 'items' [items]: Expected `bool`, got `str`",
        at("queries.1.expose", "yes"),
    ),
    Case("empty-name", "$.name: error: page 'page': Expected `str` of length >= 1", at("name", "")),
    Case(
        "queries-an-object",
        "$.queries: error: page 'items': Expected `array`, got `object`",
        at("queries", {"title": {"call": "x:y"}}),
    ),
    Case(
        "shell-a-string",
        "$.shell: error: page 'items': Expected `object`, got `str` (a table of keys)",
        at("shell", "<html></html>"),
    ),
    Case(
        "fragment-a-string",
        "$.fragments[1]: error: page 'items': Expected `object`, got `str`",
        at("fragments.1", "summary"),
    ),
    Case("name-a-number", "$.name: error: page 'page': Expected `str`, got `int`", at("name", 7)),
    Case(
        "null-template",
        "$.fragments[1].template: error: page 'items' [summary]: Expected `str | null`",
        at("fragments.1.template", ["<p>"]),
    ),
    Case(
        "every-node-once",
        "$.fragments[0].priority: error: page 'items' [list]: invalid value",
        both(at("queries.2.timout", 1), at("fragments.0.priority", "top")),
        errors=2,
    ),
]

GRAPH = [
    Case(
        "dependency-cycle",
        "error: page 'items' [items]: dependency cycle: items -> count -> items",
        at("queries.1.depends_on", ["count"]),
        errors=2,
    ),
    Case(
        "depends-on-itself",
        "$.queries[2].depends_on[0]: error: page 'items' [count]: depends on itself",
        at("queries.2.depends_on", ["count"]),
    ),
    Case(
        "misspelled-dependency",
        "$.queries[2].depends_on[0]: error: page 'items' [count]:"
        " depends on unknown query 'itemz' (did you mean 'items'?)",
        at("queries.2.depends_on", ["itemz"]),
    ),
    Case(
        "misspelled-use",
        "$.fragments[0].uses[0]: error: page 'items' [list]: uses unknown"
        " query 'iterns' (did you mean 'items'?)",
        at("fragments.0.uses", ["iterns"]),
    ),
    Case(
        "misspelled-shell-query",
        "$.shell.queries[0]: error: page 'items': unknown shell query"
        " 'titel' (did you mean 'title'?)",
        at("shell.queries", ["titel"]),
        errors=2,
    ),
    Case(
        "duplicate-query",
        "$.queries[3].name: error: page 'items' [items]: duplicate query name",
        add_query({"name": "items", "call": f"{MOD}:items", "result": "list"}),
    ),
    Case(
        "two-fragments-one-slot",
        "$.fragments[3].target: error: page 'items' [n]: two fragments fill slot 'n'",
        add_fragment({"target": "n", "template": "x"}),
    ),
    Case(
        "slot-without-fragment",
        "error: page 'items' [n]: slot 'n' in fragment 'summary' is filled by no fragment",
        drop("fragments.2"),
    ),
    Case(
        "fragment-without-slot",
        "$.fragments[3].target: error: page 'items' [sidebar]: fills"
        " slot 'sidebar', which appears in no shell or fragment",
        add_fragment({"target": "sidebar", "template": "x", "fallback": "…"}),
    ),
    Case(
        "misspelled-target",
        "fills slot 'sumary', which appears in no shell or fragment (did you mean 'summary'?)",
        at("fragments.1.target", "sumary"),
        errors=2,
    ),
    Case(
        "slot-cycle-self",
        "$.fragments[3].template: error: page 'items' [loop]: slot cycle: loop ->"
        " loop (fragment 'loop' holds its own slot",
        add_fragment(
            {"target": "loop", "template": '<p><?marker name="loop"></p>', "fallback": "…"}
        ),
    ),
    Case(
        "slot-cycle-pair",
        "$.fragments[3].template: error: page 'items' [m]: slot cycle: m -> o -> m",
        both(
            add_fragment({"target": "m", "template": '<?marker name="o">', "fallback": "…"}),
            add_fragment({"target": "o", "template": '<?marker name="m">', "fallback": "…"}),
        ),
    ),
    Case(
        "slot-twice-in-shell",
        "$.shell.html: error: page 'items': slot 'list' appears twice in the shell",
        at("shell.html", SHELL.replace("</ul>", '</ul><?marker name="list">')),
    ),
    Case(
        "slot-in-shell-and-fragment",
        "error: page 'items' [summary]: slot 'list' appears both"
        " in the shell and in fragment 'summary'",
        at("fragments.1.template", '<?marker name="n"><?marker name="list">'),
    ),
    Case(
        "slot-after-body",
        "$.shell.html: error: page 'items': slot markers after </body> cannot be filled",
        at(
            "shell.html",
            SHELL.replace('<?marker name="summary"></body>', '</body><?marker name="summary">'),
        ),
    ),
    Case(
        "placeholder-after-body",
        "$.shell.html: error: page 'items': placeholders after </body> are never filled",
        at("shell.html", SHELL + "{{ title }}"),
    ),
    Case(
        "marker-in-fallback",
        "$.fragments[0].fallback: error: page 'items' [list]: fallback"
        " HTML must not contain slot markers",
        at("fragments.0.fallback", '<?marker name="n">'),
    ),
    Case(
        "marker-in-error",
        "$.fragments[0].error: error: page 'items' [list]: error HTML must not"
        " contain slot markers",
        at("fragments.0.error", '<?marker name="zz">'),
    ),
    Case(
        "slots-disagree",
        "$.fragments[1].slots: error: page 'items' [summary]: 'slots' ['m']"
        " disagree with the template's markers ['n']",
        at("fragments.1.slots", ["m"]),
    ),
    Case(
        "shell-unknown-root",
        "$.shell.html: error: page 'items': shell refers to titel, not"
        " among the shell queries (did you mean 'title'?)",
        at("shell.html", SHELL.replace("{{ title }}", "{{ titel }}")),
    ),
    Case(
        "shell-root-not-a-shell-query",
        "shell refers to items, not among the shell queries (add 'items' to shell.queries)",
        at("shell.html", SHELL.replace("{{ title }}", "{{ items.0.name }}")),
    ),
    Case(
        "template-root-not-used",
        "$.fragments[1].template: error: page 'items' [summary]:"
        " template refers to title, not in 'uses'",
        at("fragments.1.template", '{{ title }}<?marker name="n">'),
    ),
    Case(
        "render-and-template",
        "$.fragments[0]: error: page 'items' [list]: set exactly one of",
        at("fragments.0.template", "<li>x</li>"),
    ),
    Case(
        "neither-render-nor-template",
        "$.fragments[2]: error: page 'items' [n]: set exactly one of",
        drop("fragments.2.template"),
    ),
    Case(
        "misspelled-field",
        "$.fragments[1].template: error: page 'items' [summary]: {{"
        " items.0.nme }}: items.0 is Item, which has no field 'nme' (did you mean 'name'?)",
        at("fragments.1.template", '{{ items.0.nme }}<?marker name="n">'),
    ),
    Case(
        "field-of-a-string",
        "$.shell.html: error: page 'items': {{ title.text }}: title is"
        " str, which has no attribute 'text'",
        at("shell.html", SHELL.replace("{{ title }}", "{{ title.text }}")),
    ),
    Case(
        "optional-result-path",
        "{{ items.0.name }}: query 'items' is declared list[Item] |"
        " None, so .0 fails whenever it is None: raise in the query",
        at("queries.1.result", f"list[{MOD}:Item] | None"),
        errors=3,  # the dependent query, the renderer and the template: each really breaks
    ),
    Case(
        "jinja-statement",
        "$.fragments[1].template: error: page 'items' [summary]: '{% for i"
        " in items %}' is Jinja syntax, and {{ }} templates only interpolate values: use a"
        " Jinja2 template (jinja = ...) or a render function",
        at(
            "fragments.1.template", '{% for i in items %}{{ i.name }}{% endfor %}<?marker name="n">'
        ),
    ),
    Case(
        "jinja-in-shell",
        "$.shell.html: error: page 'items': '{% block title %}' is Jinja syntax",
        at("shell.html", SHELL.replace("{{ title }}", "{% block title %}")),
    ),
    Case(
        "unknown-filter",
        "unknown filter 'upper' in '{{ count | upper }}': the filters are url",
        at("fragments.1.template", '{{ count | upper }}<?marker name="n">'),
    ),
    Case(
        "expression-placeholder",
        "cannot read '{{ items[0] }}': a placeholder is a path",
        at("fragments.1.template", '{{ items[0] }}<?marker name="n">'),
    ),
    Case(
        "batched-without-append",
        "$.fragments[0].mode: error: page 'items' [list]: uses"
        " batched query 'b': set mode = \"append\"",
        both(
            add_query(BATCHES),
            at("fragments.0.uses", ["b"]),
            at("fragments.0.render", None),
            at("fragments.0.template", "x"),
        ),
        formats=("json", "yaml"),
    ),
    Case(
        "append-without-batches",
        "$.fragments[1].uses: error: page 'items' [summary]: an append"
        " fragment uses exactly one batched query (an async generator); found 0",
        at("fragments.1.mode", "append"),
    ),
    Case(
        "depends-on-batches",
        "error: page 'items' [count]: depends on 'b', which yields"
        " batches: batched queries feed append fragments only",
        both(
            add_query(BATCHES),
            at("queries.2.depends_on", ["b"]),
            at("queries.2.call", f"{MOD}:anything"),
        ),
    ),
    Case(
        "batched-shell-query",
        "$.shell.queries[1]: error: page 'items': shell query 'b' yields batches",
        both(add_query(BATCHES), at("shell.queries", ["title", "b"])),
    ),
    Case(
        "dependency-and-parameter",
        "$.queries[2].params: error: page 'items' [count]: items"
        " named both as dependency and as parameter",
        at("queries.2.params", ["items"]),
    ),
    Case(
        "missing-argument",
        "$.queries[2].call: error: page 'items' [count]: callable"
        f" {MOD}:count requires argument(s) items that nothing provides",
        at("queries.2.depends_on", []),
    ),
    Case(
        "unexpected-parameter",
        "$.queries[0].call: error: page 'items' [title]: callable"
        f" {MOD}:title does not accept keyword argument(s) lang",
        at("queries.0.params", ["lang"]),
    ),
    Case(
        "renderer-type-mismatch",
        "$.fragments[0].render: error: page 'items' [list]: renderer"
        " parameter 'count' is annotated int but query 'count' declares str",
        both(
            at("queries.2.result", "str"),
            at("fragments.0.render", f"{MOD}:render_count"),
            at("fragments.0.uses", ["count"]),
        ),
    ),
    Case(
        "async-renderer",
        "$.fragments[0].render: error: page 'items' [list]: renderer"
        f" {MOD}:title is async: fetch data in queries, render synchronously",
        both(at("fragments.0.render", f"{MOD}:title"), at("fragments.0.uses", [])),
    ),
]


def _module(source: str) -> tuple[tuple[str, str], ...]:
    return (("extra", source),)


IMPORTS = [
    Case(
        "missing-module",
        "$.queries[1].call: error: page 'items' [items]: cannot import module"
        " 'nowhere_at_all' for 'nowhere_at_all:items': No module named 'nowhere_at_all'",
        at("queries.1.call", "nowhere_at_all:items"),
    ),
    Case(
        "missing-attribute",
        "$.queries[1].call: error: page 'items' [items]: module"
        f" '{MOD}' has no attribute 'itemz' (did you mean 'items'?)",
        at("queries.1.call", f"{MOD}:itemz"),
    ),
    Case(
        "missing-class",
        f"$.queries[1].result: error: page 'items' [items]: module '{MOD}' has"
        " no attribute 'Itme' (did you mean 'Item'?)",
        at("queries.1.result", f"list[{MOD}:Itme]"),
    ),
    Case(
        "unknown-builtin-type",
        "$.queries[0].result: error: page 'items' [title]: unknown type"
        " 'strr' in 'strr' (did you mean 'str'?)",
        at("queries.0.result", "strr"),
    ),
    Case(
        "unclosed-type",
        "$.queries[0].result: error: page 'items' [title]: expected ']' in type 'list[int'",
        at("queries.0.result", "list[int"),
    ),
    Case(
        "type-too-deep",
        "$.queries[0].result: error: page 'items' [title]: type 'list[list[list"
        "[list[list[list[list[list['… nests deeper than 32 levels",
        at("queries.0.result", "list[" * 40 + "str" + "]" * 40),
    ),
    Case(
        "type-garbage",
        "$.queries[0].result: error: page 'items' [title]: cannot read type",
        at("queries.0.result", "str; drop table"),
    ),
    Case(
        "not-callable",
        "$.queries[0].call: error: page 'items' [title]: 3 is not callable",
        at("queries.0.call", "{extra}:NUMBER"),
        modules=_module("NUMBER = 3\n"),
    ),
    Case(
        "module-raises",
        "$.queries[0].call: error: page 'items' [title]: importing module"
        " '{extra}' for '{extra}:title' raised ZeroDivisionError: division by zero",
        at("queries.0.call", "{extra}:title"),
        modules=_module("1 / 0\n"),
    ),
    Case(
        "module-exits",
        "$.queries[0].call: error: page 'items' [title]: importing module"
        " '{extra}' for '{extra}:title' called sys.exit(0)",
        at("queries.0.call", "{extra}:title"),
        modules=_module("import sys\nsys.exit(0)\n"),
    ),
    Case(
        "module-syntax-error",
        "importing module '{extra}' for '{extra}:title' raised SyntaxError",
        at("queries.0.call", "{extra}:title"),
        modules=_module("def (:\n"),
    ),
    Case(
        "module-missing-dependency",
        "cannot import module '{extra}' for '{extra}:title': No"
        " module named 'not_installed_anywhere'",
        at("queries.0.call", "{extra}:title"),
        modules=_module("import not_installed_anywhere\n"),
    ),
    Case(
        "wrong-directory",
        "error: page 'items' [title]: cannot import module 'ghostpkg.site'"
        " for 'ghostpkg.site:title': No module named 'ghostpkg'",
        rename_module("ghostpkg.site"),
    ),
]


def _deep(fmt: str) -> bytes:
    nested = "[" * 50_000 + "]" * 50_000
    return {
        "toml": f'name = "x"\nshell = {{html = ""}}\nqueries = {nested}\n',
        "json": f'{{"name": "x", "shell": {{"html": ""}}, "queries": {nested}}}',
        "yaml": f'name: x\nshell: {{html: ""}}\nqueries: {nested}\n',
    }[fmt].encode()


def _by_format(**texts: str) -> Callable[[str], bytes]:
    return lambda fmt: texts[fmt].encode()


def _bomb(fmt: str) -> bytes:
    lines, previous = ["a: &a [x, x, x, x, x, x, x, x, x]"], "a"
    for i in range(1, 9):
        lines.append(f"b{i}: &b{i} [{', '.join([f'*{previous}'] * 9)}]")
        previous = f"b{i}"
    return "\n".join(lines).encode()


RAW = [
    Case("empty", "error: page 'page': the file is empty", raw=lambda fmt: b""),
    Case("blank", "error: page 'page': the file is empty", raw=lambda fmt: b" \n\t\n"),
    Case(
        "binary",
        "error: page 'page': the file holds NUL bytes: it is binary",
        raw=lambda fmt: bytes(range(256)) * 4,
    ),
    Case(
        "utf-16",
        "error: page 'page': the file is UTF-16 encoded: save it as UTF-8",
        raw=lambda fmt: write(base_page(MOD), fmt).decode().encode("utf-16"),
    ),
    Case(
        "latin-1",
        "error: page 'page': the file is not UTF-8: byte 0xe9 at line 1",
        raw=lambda fmt: {
            "toml": 'name = "caf\xe9"\n',
            "json": '{"name": "caf\xe9"}',
            "yaml": "name: caf\xe9\n",
        }[fmt].encode("latin-1"),
    ),
    Case(
        "nested-50000",
        "error: page 'page': the file nests too deeply",
        raw=_deep,
        formats=("toml", "json"),
    ),
    Case(
        "nested-50000-yaml",
        "error: page 'page': while increasing flow level exceeded maximum nesting depth",
        raw=_deep,
        formats=("yaml",),
    ),
    Case(
        "over-4-mib",
        "error: page 'page': the file is 4.0 MiB; page files are limited to 4 MiB",
        raw=lambda fmt: b" " * (4 * 2**20 + 1),
    ),
    Case(
        "toml-unterminated-string",
        "error: page 'page': Illegal character '\\n' (at line 1, column 10)",
        raw=_by_format(toml='name = "p\n'),
        formats=("toml",),
    ),
    Case(
        "toml-missing-equals",
        "error: page 'page': Expected '=' after a key in a key/value pair (at line 1, column 6)",
        raw=_by_format(toml="name \n"),
        formats=("toml",),
    ),
    Case(
        "toml-bad-table",
        "error: page 'page': Expected ']' at the end of a table declaration (at line 1, column 7)",
        raw=_by_format(toml="[shell\nhtml = ''\n"),
        formats=("toml",),
    ),
    Case(
        "toml-duplicate-key",
        "error: page 'page': key 'name' is written twice (line 2): remove one",
        raw=_by_format(toml='name = "a"\nname = "b"\n'),
        formats=("toml",),
    ),
    Case(
        "toml-duplicate-table",
        "error: page 'page': key 'shell' is written twice (line 5)",
        raw=_by_format(toml='name = "a"\n[shell]\nhtml = ""\n\n[shell]\nhtml = "x"\n'),
        formats=("toml",),
    ),
    Case(
        "toml-datetime-name",
        "$.name: error: page 'page': Expected `str`, got `datetime`",
        raw=_by_format(toml='name = 1979-05-27T07:32:00Z\n[shell]\nhtml = ""\n'),
        formats=("toml",),
    ),
    Case(
        "json-trailing-comma",
        "error: page 'page': JSON is malformed: trailing comma in object (line 1, column 27)",
        raw=_by_format(json='{"name": "p", "shell": {},}'),
        formats=("json",),
    ),
    Case(
        "json-single-quotes",
        "error: page 'page': JSON is malformed: object keys must be strings (line 1, column 2)",
        raw=_by_format(json="{'name': 'p'}"),
        formats=("json",),
    ),
    Case(
        "json-truncated",
        "error: page 'page': Input data was truncated",
        raw=_by_format(json='{"name": "p", "shell": {"html": "'),
        formats=("json",),
    ),
    Case(
        "json-comment",
        "error: page 'page': JSON is malformed: object keys must be strings (line 2, column 1)",
        raw=_by_format(json='{"name": "p",\n// shell next\n}'),
        formats=("json",),
    ),
    Case(
        "json-nan",
        "error: page 'page': JSON is malformed: invalid character",
        raw=_by_format(json='{"name": "p", "deadline": NaN}'),
        formats=("json",),
    ),
    Case(
        "json-duplicate-key",
        "$.name: error: page 'page': key 'name' is written twice in one"
        " object (JSON decoders keep only the last): remove one",
        raw=_by_format(json='{"name": "a", "shell": {"html": ""}, "name": "b"}'),
        formats=("json",),
    ),
    Case(
        "json-nested-duplicate",
        "$.queries[0].call: error: page 'page': key 'call' is written twice",
        raw=_by_format(
            json='{"name": "a", "shell": {"html": ""}, "queries":'
            ' [{"name": "q", "call": "a:b", "call": "a:c"}]}'
        ),
        formats=("json",),
    ),
    Case(
        "json-array",
        "error: page 'page': Expected `object`, got `array`",
        raw=_by_format(json="[1, 2]"),
        formats=("json",),
    ),
    Case(
        "yaml-bad-indent",
        "error: page 'page': while parsing a block mapping at line 1, column 1 did not find"
        " expected key at line 4, column 2",
        raw=_by_format(yaml="name: p\nshell:\n  html: x\n queries: []\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-unclosed-flow",
        "error: page 'page': while parsing a flow sequence",
        raw=_by_format(yaml="name: p\nqueries: [a, b\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-tab-indent",
        "error: page 'page': while scanning for the next token found character that cannot"
        " start any token at line 3, column 1",
        raw=_by_format(yaml="name: p\nshell:\n\thtml: x\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-two-documents",
        "error: page 'page': expected a single document in the stream",
        raw=_by_format(yaml="name: a\n---\nname: b\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-alias-bomb",
        "error: page 'page': YAML aliases expand to more than 100000 values",
        raw=_bomb,
        formats=("yaml",),
    ),
    Case(
        "yaml-recursive-alias",
        "$.a[0]: error: page 'page': a YAML alias refers to a value that holds it",
        raw=_by_format(yaml="a: &a [*a]\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-duplicate-key",
        "$.shell.html: error: page 'page': key 'html' is written twice"
        " (line 4; YAML decoders keep only the last): remove one",
        raw=_by_format(yaml="name: a\nshell:\n  html: x\n  html: y\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-scalar",
        "error: page 'page': Expected `object`, got `str`",
        raw=_by_format(yaml="just some text\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-null-document",
        "error: page 'page': Expected `object`, got `null`",
        raw=_by_format(yaml="# nothing but a comment\n~\n"),
        formats=("yaml",),
    ),
    Case(
        "yaml-integer-key",
        "error: page 'a': Expected `str` for a key: keys are names, written as text",
        raw=_by_format(yaml="name: a\nshell: {html: x}\n1: one\n"),
        formats=("yaml",),
    ),
]

CASES = [
    pytest.param(case, fmt, id=f"{case.id}.{fmt}")
    for case in (*SCHEMA, *GRAPH, *IMPORTS, *RAW)
    for fmt in case.formats
]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("corpus")
    write_module(directory, MOD)
    return directory


def test_the_corpus_is_large_and_the_base_page_is_valid(
    corpus_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(CASES) >= 80
    monkeypatch.syspath_prepend(str(corpus_dir))
    for fmt in FORMATS:
        page = corpus_dir / f"valid.{fmt}"
        page.write_bytes(write(base_page(MOD), fmt))
        assert main(["check", str(page)]) == 0
        out, err = capsys.readouterr()
        assert (out, err) == ("page 'items': ok (3 queries, 3 fragments, 0 warnings)\n", "")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("case", "fmt"), CASES)
def test_a_malformed_page_is_one_clear_error(
    case: Case,
    fmt: str,
    corpus_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = {"extra": f"{MOD}_{case.id.replace('-', '_')}_{fmt}"}
    for suffix, source in case.modules:
        (corpus_dir / f"{names[suffix]}.py").write_text(source)
    expected = case.expected.replace("{extra}", names["extra"])
    if case.raw is not None:
        data = case.raw(fmt)
    else:
        assert case.change is not None
        text = write(mutated(MOD, case.change), fmt).decode()
        data = text.replace("{extra}", names["extra"]).encode()
    page = corpus_dir / f"{case.id}-{fmt}" / f"page.{fmt}"
    page.parent.mkdir()
    page.write_bytes(data)
    monkeypatch.syspath_prepend(str(corpus_dir))
    code = main(["check", str(page)])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert code == 1, err
    assert out == ""
    assert "Traceback" not in err
    assert all(line.startswith(f"{page}:") for line in errors), err
    assert len(errors) == case.errors, err
    assert any(expected in line for line in errors), err
