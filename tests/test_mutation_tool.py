"""``python -m tools.mutation``'s bookkeeping: what a sampled run counts and reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import mutation


def _run_with(work: Path, codes: dict[str, int | None], drawn: list[str] | None) -> None:
    meta = work / "definition" / "mutants" / "engine" / "definition" / "load.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")
    if drawn is not None:
        (work / "definition" / mutation.SAMPLE).write_text(json.dumps(drawn), encoding="utf-8")


CODES = {"m1": 1, "m2": 0, "m3": None, "m4": 36, "m5": 33}


def test_a_sample_is_scored_on_the_mutants_it_checked(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(mutation, "WORK", tmp_path)
    _run_with(tmp_path, CODES, ["m1", "m2", "m4", "m5"])
    score = mutation.score_of("definition")
    assert (score.killed, score.timeout, score.survived, score.no_tests) == (1, 1, 1, 1)
    assert (score.total, score.unchecked, score.rate) == (4, 1, 0.5)
    assert score.row().startswith("| definition | 4 of 5 | 1 | 1 | 1 | 1 | 0 | 50.0% (sample")
    assert mutation.survivors_of("definition") == ["m2", "m5"]


def test_survivors_of_a_sample_wait_for_every_drawn_mutant(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(mutation, "WORK", tmp_path)
    _run_with(tmp_path, CODES, ["m1", "m3"])
    with pytest.raises(SystemExit, match="did not finish"):
        mutation.survivors_of("definition")


def test_an_unfinished_full_run_is_not_reported_as_a_sample(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(mutation, "WORK", tmp_path)
    _run_with(tmp_path, CODES, None)
    assert mutation.score_of("definition").row() == (
        "| definition | 4 of 5 | 1 | 1 | 1 | 1 | 0 | 50.0% |"
    )
    with pytest.raises(SystemExit, match="did not finish"):
        mutation.survivors_of("definition")


@pytest.mark.parametrize(
    ("killed", "checked", "low", "high"),
    [(9, 10, 0.596, 0.982), (50, 100, 0.404, 0.596), (0, 20, 0.0, 0.161)],
)
def test_the_sample_interval_is_wilsons(killed, checked, low, high) -> None:
    score = mutation.Score("m", killed=killed, survived=checked - killed, sampled=True)
    assert score.interval() == (pytest.approx(low, abs=5e-4), pytest.approx(high, abs=5e-4))


def test_a_module_run_deselects_its_subprocess_only_tests(tmp_path) -> None:
    for module in ("definition", "resolution"):
        mutation._narrow(module, tmp_path)
        text = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
        tests = mutation.MODULES[module][1]
        for name in mutation.SUBPROCESS_ONLY:
            deselected = f'"--deselect={name}"' in text
            assert deselected == (name.split("::")[0] in tests), (module, name)
        assert f'only_mutate = ["engine/{module}/*"]' in text
    mutation._narrow("wire", tmp_path)
    assert "--deselect" not in (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
