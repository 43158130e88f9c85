"""Mutation testing of the core modules, one module at a time (on demand, never in CI).

    pip install -e '.[test,mutation]'
    python -m tools.mutation                 # every core module, one after the other
    python -m tools.mutation wire markup     # some of them
    python -m tools.mutation --report        # only print the table of the last runs
    python -m tools.mutation markup --survivors  # after adding tests: rerun only the survivors

Each module runs in its own copy of the repository under ``.mutation/<module>/`` with
``[tool.mutmut]`` narrowed to that module's files and to the tests that exercise it, so a
module's mutants run only those tests (mutmut then keeps, per mutant, only the tests that
reach the mutated function). Hypothesis runs its ``mutation`` profile there: fewer
examples, derandomized, so a verdict does not depend on luck. Results stay in the copy:
``cd .mutation/wire && mutmut results`` lists survivors, ``mutmut show NAME`` shows one.

``--survivors`` reruns only the last run's survivors against the current tests (copied in
again), which is honest as long as the mutated files are unchanged: tests were only added,
so a killed mutant stays killed. It refuses if the module's code changed since the run.

``--sample N`` checks N of the module's mutants drawn uniformly at random (``--seed``), for a
module too large to finish in the time there is: mutmut otherwise runs the mutants with the
cheapest tests first, so a run stopped early measures the cheap code, not the module. The
report then gives the kill rate of the sample with its 95% interval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
COPIED = ("engine", "schemas", "tests", "examples", "pyproject.toml", "README.md", ".ci")

# Per module: the files mutated and the in-process tests that exercise them.
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "scheduling": (
        "engine/scheduling/*",
        (
            "tests/test_render.py",
            "tests/test_failures.py",
            "tests/test_contract.py",
            "tests/test_testing.py",
            "tests/test_html5.py",
            "tests/test_properties.py",
            "tests/test_append_failures.py",
            "tests/test_surrogates.py",
            "tests/test_wire_guards.py",
            "tests/test_shell.py",
            "tests/test_layouts.py",
            "tests/test_site.py",
            "tests/test_contract_cases.py",
            "tests/test_scheduling_cases.py",
            "tests/test_action_timeline.py",
            "tests/test_navigation.py",
            "tests/test_site_cart.py",
            "tests/asgi/test_action_fetch.py",
            "tests/asgi/test_actions.py",
            "tests/asgi/test_cache_invalidation.py",
            "tests/asgi/test_navigation.py",
        ),
    ),
    "resolution": (
        "engine/resolution/*",
        (
            "tests/test_render.py",
            "tests/test_failures.py",
            "tests/test_testing.py",
            "tests/test_properties.py",
            "tests/test_append_failures.py",
            "tests/test_surrogates.py",
            "tests/test_sources.py",
            "tests/test_shell.py",
            "tests/test_site.py",
            "tests/test_batching.py",
            "tests/test_admission.py",
            "tests/test_cache.py",
            "tests/test_cache_keys.py",
            "tests/test_cache_properties.py",
            "tests/test_trace.py",
            "tests/test_contract_cases.py",
            "tests/context/test_sources.py",
            "tests/asgi/test_asyncio.py",
            "tests/asgi/test_guest.py",
            "tests/test_action_timeline.py",
            "tests/asgi/test_cache_invalidation.py",
            "tests/asgi/test_app.py",
            "tests/asgi/test_actions.py",
            "tests/asgi/test_tracing.py",
            "tests/asgi/test_cache_tracing.py",
            "tests/context/test_resources.py",
        ),
    ),
    "wire": (
        "engine/wire/*",
        (
            "tests/test_wire.py",
            "tests/test_render.py",
            "tests/test_failures.py",
            "tests/test_html5.py",
            "tests/test_exports.py",
            "tests/test_contract.py",
            "tests/test_surrogates.py",
            "tests/test_navigation.py",
            "tests/test_wire_encoding.py",
        ),
    ),
    "markup": (
        "engine/markup/*",
        (
            "tests/test_markup.py",
            "tests/test_graph.py",
            "tests/test_render.py",
            "tests/test_html5.py",
            "tests/test_jinja.py",
            "tests/test_shell.py",
            "tests/test_surrogates.py",
            "tests/test_layouts.py",
            "tests/test_malformed_pages.py",
            "tests/test_site.py",
            "tests/test_jinja_checks.py",
            "tests/test_binding_checks.py",
            "tests/test_escaping.py",
            "tests/test_template_compile.py",
        ),
    ),
    "contract": (
        "engine/contract/*",
        (
            "tests/test_contract.py",
            "tests/test_testing.py",
            "tests/test_trace.py",
            "tests/test_properties.py",
            "tests/test_append_failures.py",
            "tests/test_wire_guards.py",
            "tests/test_examples.py",
            "tests/test_contract_cases.py",
            "tests/test_action_timeline.py",
            "tests/test_navigation.py",
            "tests/test_scheduling_cases.py",
            "tests/test_render.py",
            "tests/test_layouts.py",
            "tests/test_site.py",
        ),
    ),
    "definition": (
        "engine/definition/*",
        (
            "tests/test_graph.py",
            "tests/test_refs.py",
            "tests/test_schemas.py",
            "tests/test_cli.py",
            "tests/test_examples.py",
            "tests/test_readme.py",
            "tests/test_render.py",
            "tests/test_malformed_pages.py",
            "tests/test_definition_errors.py",
            "tests/test_page_properties.py",
            "tests/test_jinja.py",
            "tests/test_layouts.py",
            "tests/test_shell.py",
            "tests/test_jinja_checks.py",
            "tests/test_markup.py",
            "tests/test_action_definitions.py",
            "tests/test_cache_definitions.py",
            "tests/test_sources.py",
            "tests/context/test_cli.py",
            "tests/context/test_resources.py",
            "tests/context/test_sources.py",
            "tests/asgi/test_actions.py",
            "tests/test_admission.py",
            "tests/test_batching.py",
            "tests/test_binding_checks.py",
            "tests/test_navigation.py",
            "tests/test_definition_messages.py",
        ),
    ),
}

# Tests that only run ``python -m engine`` in a subprocess: mutmut maps no mutant to them (its
# stats see the test's own process), and at ``nice -n 19`` on a busy machine their subprocess
# timeouts fail mutmut's stats and clean runs spuriously, which stops the whole run.
SUBPROCESS_ONLY = (
    "tests/test_definition_errors.py::test_render_and_app_of_a_slot_cycle_fail_at_once",
    "tests/test_definition_errors.py::test_a_module_exiting_on_import_is_an_error",
    "tests/test_cli.py::test_the_console_script_is_installed",
    "tests/asgi/test_tracing.py::test_a_real_server_links_the_render_to_its_request_span",
    "tests/asgi/test_tracing.py::test_off_by_default_it_never_imports_opentelemetry",
    "tests/asgi/test_navigation.py::test_a_real_server_streams_a_navigation_write_by_write",
)

# mutmut's exit codes of a mutant's test run (mutmut.stats.status_by_exit_code).
SAMPLE = "sample.json"  # in a module's copy: the mutants a --sample run drew

KILLED = {1, 3}
TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class Score:
    module: str
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    no_tests: int = 0
    other: int = 0
    unchecked: int = 0
    """Mutants generated but not run (a sample, or a run stopped early): not in the rate."""
    sampled: bool = False

    @property
    def total(self) -> int:
        """Mutants checked."""
        return self.killed + self.timeout + self.survived + self.no_tests + self.other

    @property
    def rate(self) -> float:
        """Killed (a timeout counts: the mutant hung the tests) over every mutant checked;
        a mutant no test reaches counts as a survivor."""
        return (self.killed + self.timeout) / self.total if self.total else 0.0

    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of the kill rate, for a uniform sample of the mutants."""
        n, z = self.total, 1.96
        if not n:
            return 0.0, 1.0
        p = self.rate
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def row(self) -> str:
        checked = f"{self.total} of {self.total + self.unchecked}" if self.unchecked else self.total
        rate = f"{self.rate:.1%}"
        if self.sampled:
            low, high = self.interval()
            rate += f" (sample: 95% in {low:.1%}..{high:.1%})"
        return (
            f"| {self.module} | {checked} | {self.killed} | {self.timeout} | {self.survived}"
            f" | {self.no_tests} | {self.other} | {rate} |"
        )


def prepare(module: str) -> Path:
    """A fresh copy of the repository whose mutmut config covers only ``module``."""
    copy = WORK / module
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    _copy_into(copy, COPIED)
    _narrow(module, copy)
    return copy


def _copy_into(copy: Path, names: tuple[str, ...]) -> None:
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                copy / name,
                ignore=shutil.ignore_patterns("__pycache__"),
                dirs_exist_ok=True,
            )
        elif source.exists():
            shutil.copy2(source, copy / name)


def _narrow(module: str, copy: Path) -> None:
    pattern, tests = MODULES[module]
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = _replace_list(text, "only_mutate", [pattern])
    text = _replace_list(text, "pytest_add_cli_args_test_selection", list(tests))
    selected = [name for name in SUBPROCESS_ONLY if name.split("::")[0] in tests]
    args = ["-p", "no:cacheprovider", "-q", *(f"--deselect={name}" for name in selected)]
    text = _replace_list(text, "pytest_add_cli_args", args)
    pyproject.write_text(text, encoding="utf-8")


def _replace_list(text: str, key: str, values: list[str]) -> str:
    block = re.compile(rf"^{key} = \[[^\]]*\]$", re.MULTILINE)
    if not block.search(text):
        raise SystemExit(f"pyproject.toml: [tool.mutmut] has no {key} list")
    return block.sub(f"{key} = {json.dumps(values)}", text, count=1)


def run(
    module: str, max_children: int, *, survivors: bool = False, sample: int = 0, seed: int = 0
) -> Score:
    names: list[str] = []
    earlier: dict[str, int | None] = {}
    if sample:
        copy = prepare(module)
        names = _sample(module, copy, sample, seed)
        print(f"{module}: checking {len(names)} mutants drawn at random (seed {seed})", flush=True)
    elif survivors:
        copy = WORK / module
        names = survivors_of(module)
        earlier = _exit_codes(module)
        _check_unchanged(module, copy)
        _copy_into(copy, ("tests",))
        _narrow(module, copy)
        print(f"{module}: rerunning {len(names)} survivor(s)", flush=True)
    else:
        copy = prepare(module)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
    env.pop("PYTHONPATH", None)  # mutmut puts its mutated copy first on the path itself
    started = time.monotonic()
    log_name = "mutmut-survivors.log" if survivors else "mutmut.log"
    with open(copy / log_name, "w", encoding="utf-8") as log:
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names],
            cwd=copy,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if survivors:
        _keep_earlier_verdicts(module, earlier, set(names))
    score = score_of(module)
    minutes = (time.monotonic() - started) / 60
    print(f"{score.row()}  ({minutes:.0f} min)", flush=True)
    return score


_GENERATE = """
import os
from mutmut.__main__ import create_mutants
from mutmut.mutation.trampoline import set_mutant_under_test
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(1)
"""


def _sample(module: str, copy: Path, size: int, seed: int) -> list[str]:
    """Generate the module's mutants (as ``mutmut run`` would) and draw ``size`` of them."""
    subprocess.run([sys.executable, "-c", _GENERATE], cwd=copy, check=True)
    every = sorted(_exit_codes(module))
    drawn = sorted(random.Random(seed).sample(every, min(size, len(every))))
    (copy / SAMPLE).write_text(json.dumps(drawn), encoding="utf-8")
    return drawn


def _exit_codes(module: str) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (WORK / module / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {}))
    return codes


def _keep_earlier_verdicts(module: str, earlier: dict[str, int | None], rerun: set[str]) -> None:
    """mutmut forgets the verdicts of the mutants it was not asked to rerun: put them back."""
    for meta in (WORK / module / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes = data.get("exit_code_by_key", {})
        for name, code in codes.items():
            if name not in rerun and code is None and earlier.get(name) is not None:
                codes[name] = earlier[name]
        meta.write_text(json.dumps(data), encoding="utf-8")


def survivors_of(module: str) -> list[str]:
    """The mutants of the last run that no test killed (or that no test reached)."""
    codes = _exit_codes(module)
    if not codes:
        raise SystemExit(f"{module}: no earlier run in {WORK / module}; run the module first")
    sample = WORK / module / SAMPLE
    drawn = json.loads(sample.read_text(encoding="utf-8")) if sample.exists() else list(codes)
    if any(codes[name] is None for name in drawn):
        raise SystemExit(f"{module}: the last run did not finish; run the module again")
    return sorted(name for name in drawn if codes[name] in SURVIVED | NO_TESTS)


def _check_unchanged(module: str, copy: Path) -> None:
    """Survivor reruns are honest only if the mutated code is what the run mutated."""
    package = MODULES[module][0].removesuffix("/*")
    ours, theirs = ROOT / package, copy / package
    changed = sorted(
        path.name
        for path in ours.glob("*.py")
        if not (theirs / path.name).exists()
        or (theirs / path.name).read_bytes() != path.read_bytes()
    )
    if changed:
        raise SystemExit(
            f"{module}: {', '.join(changed)} changed since the last run; run the module again"
        )


def score_of(module: str) -> Score:
    score = Score(module, sampled=(WORK / module / SAMPLE).exists())
    for code in _exit_codes(module).values():
        if code is None:
            score.unchecked += 1
        elif code in KILLED:
            score.killed += 1
        elif code in TIMEOUT:
            score.timeout += 1
        elif code in SURVIVED:
            score.survived += 1
        elif code in NO_TESTS:
            score.no_tests += 1
        else:
            score.other += 1
    return score


HEADER = (
    "| module | mutants | killed | timeout | survived | no tests | other | kill rate |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", action="store_true", help="only print the last results")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="rerun only the last run's survivors against the current tests",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="check only N mutants drawn uniformly at random (a module too large to finish)",
    )
    parser.add_argument("--seed", type=int, default=1, help="the --sample draw's seed")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}: choose from {', '.join(MODULES)}")
    print(HEADER, flush=True)
    for module in modules:
        if args.report:
            print(score_of(module).row())
        else:
            run(
                module,
                args.max_children,
                survivors=args.survivors,
                sample=args.sample,
                seed=args.seed,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
