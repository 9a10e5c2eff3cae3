"""Differential fuzzing: random nn.Module programs, exported and compared with eager.

Refusals are allowed only as GraphBreakError; a wrong result or another exception fails (and
hypothesis shrinks it). Regressions found by the thorough profile are kept as explicit cases.
"""
from hypothesis import given, settings

from strict_tracer.testing import check_program, programs


@given(programs())
def test_random_programs_match_eager(program):
    check_program(program)


@given(programs())
def test_random_programs_with_dynamic_batch_match_eager(program):
    check_program(program, batches=(4, 7, 2), dynamic=True)
