"""The page model: one set of Structs, decoded from TOML, JSON and YAML alike."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import engine
from engine.cli.schema import page_schema
from schemas import Page

PAGES = Path(__file__).parent / "pages"
ROOT = Path(__file__).parent.parent


def test_toml_json_and_yaml_decode_to_the_same_page() -> None:
    toml, json, yaml = (engine.load(PAGES / f"ok.{ext}") for ext in ("toml", "json", "yaml"))
    assert toml == json == yaml
    assert isinstance(toml, Page)
    assert [q.name for q in toml.queries] == ["title", "items", "count"]
    assert toml.fragments[1].priority == "high"


def test_unknown_keys_are_rejected_naming_file_and_key() -> None:
    with pytest.raises(engine.PageError) as caught:
        engine.load(PAGES / "unknown_field.toml")
    (problem,) = caught.value.problems
    assert problem.file == str(PAGES / "unknown_field.toml")
    assert problem.key == "$.queries[0].timout"
    assert problem.node == "q"
    assert problem.message == "unknown key 'timout' (did you mean 'timeout'?)"


def test_a_bad_value_names_its_key() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.fragments\[0\]\.target"):
        msgspec.json.decode(
            b'{"name": "p", "shell": {"html": ""}, "fragments": [{"target": "1bad"}]}', type=Page
        )


def test_models_are_frozen_and_hashable() -> None:
    page = engine.load(PAGES / "ok.toml")
    with pytest.raises(AttributeError):
        page.name = "other"  # type: ignore[misc]
    assert hash(page) == hash(engine.load(PAGES / "ok.toml"))


def test_committed_json_schema_is_current() -> None:
    committed = (ROOT / "schemas" / "page.schema.json").read_text(encoding="utf-8")
    assert committed == page_schema(), "regenerate it: engine schema > schemas/page.schema.json"


def test_json_schema_rejects_unknown_fields_for_editors() -> None:
    schema = msgspec.json.decode(page_schema())
    assert schema["$defs"]["Page"]["additionalProperties"] is False
    assert schema["$defs"]["Query"]["additionalProperties"] is False


def test_load_module_reference_and_bad_references() -> None:
    with pytest.raises(engine.PageError, match="cannot import module 'nowhere_at_all'"):
        engine.load("nowhere_at_all:page")
    with pytest.raises(engine.PageError, match=r"not a schemas\.Page"):
        engine.load("tests.pages.fixtures:Item")
    with pytest.raises(engine.PageError, match="expected a page file"):
        engine.load("just-a-name")
    with pytest.raises(engine.PageError, match="No such file"):
        engine.load(PAGES / "absent.toml")


def test_schema_text_does_not_depend_on_how_msgspec_formats_docstrings() -> None:
    # msgspec 0.22 kept a docstring's indentation in descriptions, 0.23 dedents it.
    from engine.cli.schema import _clean_descriptions

    as_022 = {"$defs": {"Shell": {"description": "Summary.\n\n    Body line."}}}
    as_023 = {"$defs": {"Shell": {"description": "Summary.\n\nBody line."}}}
    assert _clean_descriptions(as_022) == _clean_descriptions(as_023) == as_023
