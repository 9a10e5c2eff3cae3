"""Differential fuzzing: random nn.Module programs, exported and compared with eager.

Refusals are allowed only as GraphBreakError; a wrong result or another exception fails (and
hypothesis shrinks it). Regressions found by the thorough profile are kept as explicit cases.
"""
import os

from hypothesis import given, settings

from strict_tracer.testing import check_program, programs

# The default run keeps the dynamic test short (each program runs at three batch sizes); the
# thorough profile (HYPOTHESIS_PROFILE=thorough) uses its own example count for both.
DEFAULT_RUN = os.environ.get("HYPOTHESIS_PROFILE", "default") == "default"


@given(programs())
def test_random_programs_match_eager(program):
    check_program(program)


@settings(max_examples=12) if DEFAULT_RUN else (lambda f: f)
@given(programs())
def test_random_programs_with_dynamic_batch_match_eager(program):
    check_program(program, batches=(4, 7, 2), dynamic=True)


@settings(max_examples=8) if DEFAULT_RUN else (lambda f: f)
@given(programs())
def test_random_programs_with_a_named_batch_are_right_at_zero_and_one(program):
    # Dim("batch") admits 0 and 1: refused (a ConstraintViolationError) or right there too.
    check_program(program, batches=(4, 1, 0), dynamic=True, named_batch=True)
