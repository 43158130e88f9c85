"""Shared test configuration: hypothesis profiles (a larger one for thorough runs)."""

import os

from hypothesis import settings

settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
