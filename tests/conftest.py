import logging
import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 2000)), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def quiet_transformers():
    """transformers warns about the tiny models' configs; the tests do not need to hear it."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


# ---------------------------------------------------------------- every export is functional
# Wrap the packaging stage of strict_tracer.export for the whole session, so every program
# any test exports is checked: no node of its graph (or of a submodule's graph) may call an
# op whose schema mutates. The count is reported at the end of the run.
import strict_tracer.api as _api  # noqa: E402
from strict_tracer.testing.functional_check import assert_functional  # noqa: E402

EXPORTED_PROGRAMS = {"checked": 0}
_package = _api.package


def _checked_package(result, stages=None):
    ep = _package(result, stages)
    assert_functional(ep)
    EXPORTED_PROGRAMS["checked"] += 1
    return ep


_api.package = _checked_package


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"strict_tracer: {EXPORTED_PROGRAMS['checked']} exported programs checked functional "
        "(no mutable ATen schema in any graph)")
