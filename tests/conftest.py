"""Shared test configuration: hypothesis profiles (HYPOTHESIS_PROFILE=thorough for more), and
where the example site keeps its database during the tests."""

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=2000)
# python -m tools.mutation: a mutant's verdict must not depend on luck, and there are thousands.
settings.register_profile(
    "mutation",
    parent=settings.get_profile("default"),
    max_examples=40,
    derandomize=True,
    database=None,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The example site keeps its database in the user's cache folder unless SITE_DB says otherwise:
# the tests never touch that one. Tests that need a fresh database patch examples.site.db.
_site_db_dir = tempfile.mkdtemp(prefix="engine-site-tests-")
atexit.register(shutil.rmtree, _site_db_dir, ignore_errors=True)
os.environ.setdefault("SITE_DB", os.path.join(_site_db_dir, "acme.db"))


@pytest.fixture(autouse=True)
def _cold_caches_under_mutation():
    """Under ``python -m tools.mutation``, each test compiles its templates and builds its
    graphs itself: a cache filled before the mutant was switched on (while mutmut's parent
    process collected the tests) would run the unmutated code and hide the mutant."""
    if "MUTANT_UNDER_TEST" in os.environ:
        from engine import _render
        from engine.markup import jinja, templates
        from engine.wire import format as wire_format

        for cached in (
            jinja.environment,
            jinja._compile,
            jinja._from_string,
            templates._renderer,
            wire_format.slot_template,
            _render._build,
        ):
            cached.cache_clear()
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``python -m tools.mutation``, property tests run last: mutmut stops a mutant's
    tests at the first failure, and most mutants fail a quick example first, so a killed
    mutant need not wait for hundreds of generated examples. Survivors still run them all."""
    if "MUTANT_UNDER_TEST" in os.environ:
        items.sort(key=_is_property_test)


def _is_property_test(item: pytest.Item) -> bool:
    return getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
