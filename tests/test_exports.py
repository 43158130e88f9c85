"""The public API is pinned: what ``engine`` and ``engine.testing`` export, and nothing more."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import re
import types

import msgspec
import pytest

import engine
import engine.testing
import schemas

ENGINE_ALL = [
    "BLOCKED_URL",
    "SCRIPT_HASHES",
    "Action",
    "Cache",
    "CacheStore",
    "DependencyFailed",
    "EngineError",
    "ErrorHook",
    "FormState",
    "Fragment",
    "FragmentError",
    "Graph",
    "Headers",
    "Layout",
    "Loader",
    "MemoryStore",
    "Mode",
    "NoAsyncioHost",
    "NotFound",
    "Page",
    "PageError",
    "ParameterError",
    "Params",
    "Problem",
    "Query",
    "QueryError",
    "QueryParams",
    "QueryTimeout",
    "Redirect",
    "RedisStore",
    "RenderError",
    "Request",
    "RequestLoader",
    "ResourceError",
    "Resources",
    "Response",
    "ResultTypeError",
    "Shell",
    "ShellError",
    "Sink",
    "SourceExhausted",
    "SourceStatistics",
    "Sources",
    "Tracer",
    "form_state",
    "html",
    "load",
    "loader",
    "on_asyncio",
    "render",
    "render_fragment",
    "render_to_bytes",
    "safe_url",
]

TESTING_ALL = [
    "RULES",
    "QuerySpan",
    "Timeline",
    "Violation",
    "WireEvent",
    "Write",
    "assert_contract",
    "check_contract",
    "render_action_timeline",
    "render_timeline",
]


@pytest.mark.parametrize(
    ("module", "expected"), [(engine, ENGINE_ALL), (engine.testing, TESTING_ALL)]
)
def test_all_is_pinned_and_every_name_resolves(module, expected) -> None:
    assert module.__all__ == expected
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__name__ == name, f"{name} is exported under its own name"
    star: dict[str, object] = {}
    exec(f"from {module.__name__} import *", star)
    assert sorted(k for k in star if k != "__builtins__") == sorted(expected)


@pytest.mark.parametrize("module", [engine, engine.testing])
def test_no_internals_are_exported(module) -> None:
    for name in module.__all__:
        assert not name.startswith("_"), name
        value = getattr(module, name)
        assert not isinstance(value, types.ModuleType), name
        if inspect.isclass(value) or inspect.isfunction(value):
            # Defined in the engine or the schemas, never re-exported from a dependency.
            assert value.__module__.split(".")[0] in ("engine", "schemas"), name
    for internal in ("as_graph", "violations", "Wire", "State", "Resolution", "mermaid"):
        assert internal not in module.__all__


def test_schema_types_are_the_schemas_package_own() -> None:
    for name in ("Action", "Cache", "Fragment", "Page", "Query", "Shell", "Mode"):
        assert getattr(engine, name) is getattr(schemas, name)


def test_errors_form_one_tree_with_http_statuses() -> None:
    errors = [getattr(engine, n) for n in ENGINE_ALL if n.endswith(("Error", "Failed", "Timeout"))]
    errors.append(engine.NotFound)
    assert all(issubclass(e, engine.EngineError) for e in errors)
    assert issubclass(engine.PageError, ValueError)
    assert issubclass(engine.ParameterError, ValueError)
    assert issubclass(engine.NotFound, LookupError)
    assert issubclass(engine.ResultTypeError, TypeError)
    assert issubclass(engine.QueryTimeout, engine.QueryError)
    assert issubclass(engine.DependencyFailed, engine.QueryError)
    for error, status in (
        (engine.ParameterError, 400),
        (engine.NotFound, 404),
        (engine.ShellError, 500),
    ):
        assert issubclass(error, engine.RenderError) and error.status_code == status


async def test_script_hashes_are_the_hashes_of_the_scripts_the_engine_emits() -> None:
    page = engine.Page(
        name="hashed",
        shell=engine.Shell(html='<!doctype html><meta charset="utf-8"><p><?marker name="a"></p>'),
        queries=(engine.Query(name="q", call=_one, result=int),),
        fragments=(engine.Fragment(target="a", uses=("q",), template="{{ q }}", fallback="…"),),
        navigation=True,
    )
    with_actions = msgspec.structs.replace(page, actions=(engine.Action(name="a", call=_one),))
    html = (await engine.render_to_bytes(page, mode="out-of-order")).decode()
    html += (await engine.render_to_bytes(with_actions, mode="out-of-order")).decode()
    scripts = re.findall(r"<script(?: data-navigation=\"all\")?>(.*?)</script>", html, re.DOTALL)
    assert len(scripts) >= 7, "runtime, navigate.js, a swap script; then actions.js as well"
    emitted = {
        "sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts
    }
    assert emitted == set(engine.SCRIPT_HASHES), "one hash per distinct script, no stale one"


async def _one() -> int:
    return 1


def test_engine_cli_exports_main(capsys) -> None:
    import engine.cli

    assert engine.cli.__all__ == ["main"]
    assert engine.cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$ref"] == "#/$defs/Page"
