"""Cache policies in page files (TOML, JSON, YAML) and the definition errors of unsafe ones:
``engine check`` names page, query, file and key, and says how to fix it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import engine
from engine.cli import main

CALLS = """
import engine

async def visitor(request: engine.Request) -> str:
    return request.headers.get("x-user", "")

def reply(response: engine.Response) -> str:
    return ""

async def lines():
    yield ["a"]

async def greeting(lang: str, session: str) -> str:
    return f"{lang}/{session}"
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"cachecalls_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(CALLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return name


def check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    return code, out + err


SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"></head>'
    "<body><p>{{ greeting }}</p></body></html>"
)


def test_a_policy_in_each_file_format_builds(tmp_path: Path, module: str) -> None:
    page = {
        "name": "greet",
        "shell": {"html": SHELL, "queries": ["greeting"]},
        "queries": [
            {
                "name": "greeting",
                "call": f"{module}:greeting",
                "result": "str",
                "params": {"header": ["lang"], "cookie": ["session"]},
                "cache": {"ttl": 60, "stale": 300, "failures": 5, "version": "3"},
            }
        ],
    }
    toml = tmp_path / "greet.toml"
    toml.write_text(
        f"name = 'greet'\n[shell]\nqueries = ['greeting']\nhtml = '{SHELL}'\n"
        f"[[queries]]\nname = 'greeting'\ncall = '{module}:greeting'\nresult = 'str'\n"
        "params = { header = ['lang'], cookie = ['session'] }\n"
        "cache = { ttl = 60, stale = 300, failures = 5, version = '3' }\n"
    )
    (tmp_path / "greet.json").write_text(json.dumps(page))
    (tmp_path / "greet.yaml").write_text(json.dumps(page))  # JSON is YAML
    for path in ("greet.toml", "greet.json", "greet.yaml"):
        graph = engine.Graph.build(engine.load(tmp_path / path))
        policy = graph.queries[0].cache
        assert policy is not None
        assert (policy.ttl, policy.stale, policy.failures) == (60, 300, 5)
        assert policy.family == "greet.greeting"
        assert "|3|" in policy.identity


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "name = 'visitor'\ncall = '{m}:visitor'\nresult = 'str'\n",
            "is cached, but {m}:visitor takes the whole request (request: engine.Request): the"
            " cache key cannot hold what it reads from it, so one visitor's result could be"
            " served to another; declare the headers and cookies it needs as parameters",
        ),
        (
            "name = 'reply'\ncall = '{m}:reply'\nresult = 'str'\n",
            "is cached, but {m}:reply sets the response head (response: engine.Response)",
        ),
        (
            "name = 'lines'\ncall = '{m}:lines'\nresult = 'list[str]'\n",
            "is cached, but {m}:lines yields batches: only a whole result can be cached",
        ),
    ],
)
def test_engine_check_rejects_a_policy_whose_key_would_leave_an_input_out(
    tmp_path: Path, module: str, capsys: pytest.CaptureFixture[str], query: str, expected: str
) -> None:
    path = tmp_path / "unsafe.toml"
    name = query.split("'")[1]
    path.write_text(
        "name = 'unsafe'\n[shell]\nhtml = '<!doctype html><meta charset=utf-8><p>x</p>'\n"
        # a response may only be set before the first byte: that rule is not what is tested
        + (f"queries = ['{name}']\n" if name == "reply" else "")
        + f"[[queries]]\n{query.format(m=module)}cache = {{ ttl = 60 }}\n"
    )
    code, out = check(capsys, path)
    assert code == 1
    lines = [line for line in out.splitlines() if "error:" in line]
    assert len(lines) == 1, out
    assert lines[0].startswith(f"{path}:$.queries[0].cache: error: page 'unsafe' [{name}]: ")
    assert expected.format(m=module) in lines[0]


def test_a_malformed_policy_is_a_schema_error(
    tmp_path: Path, module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "name = 'bad'\n[shell]\nhtml = '<!doctype html><p>x</p>'\n"
        f"[[queries]]\nname = 'greeting'\ncall = '{module}:greeting'\nresult = 'str'\n"
        "params = ['lang', 'session']\ncache = { ttl = 0, stale = 5 }\n"
    )
    code, out = check(capsys, path)
    assert code == 1
    assert "$.queries[0].cache.ttl" in out and "Expected `float` >= 0" not in out, out


def test_a_python_page_is_checked_the_same_way() -> None:
    async def visitor(request: engine.Request) -> str:
        return ""

    page = engine.Page(
        name="py",
        shell=engine.Shell(html="<!doctype html><p>x</p>"),
        queries=(engine.Query(name="v", call=visitor, result=str, cache=engine.Cache(ttl=5)),),
    )
    with pytest.raises(engine.PageError) as caught:
        engine.Graph.build(page)
    [problem] = [p for p in caught.value.problems if p.severity == "error"]
    assert (problem.page, problem.node, problem.key) == ("py", "v", "$.queries[0].cache")
    assert "engine.Params(header=..., cookie=...)" in problem.message


def test_a_cached_query_may_not_read_through_a_loader() -> None:
    async def fetch_users(keys: list[int]) -> list[str]:
        return [str(k) for k in keys]

    users = engine.Loader(fetch_users, name="users")

    async def team(users: engine.RequestLoader[int, str]) -> str:
        return await users.load(1)

    page = engine.Page(
        name="team",
        shell=engine.Shell(html='<!doctype html><meta charset="utf-8"><p>x</p>'),
        queries=(
            engine.Query(
                name="team", call=team, result=str, loaders=(users,), cache=engine.Cache(ttl=5)
            ),
        ),
    )
    with pytest.raises(engine.PageError) as caught:
        engine.Graph.build(page)
    [problem] = [p for p in caught.value.problems if p.severity == "error"]
    assert (problem.node, problem.key) == ("team", "$.queries[0].cache")
    assert problem.message.startswith("is cached, but it reads through loader(s) 'users':")
