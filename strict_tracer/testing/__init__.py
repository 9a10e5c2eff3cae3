"""Testing helpers.

For users: `inputs_for(ep)` / `violating_inputs(ep)` (hypothesis strategies drawing inputs
inside / outside an ExportedProgram's input specs and range constraints) and
`assert_matches_eager(mod, ep, *args, **kwargs)`; `accepts(ep, args, kwargs)` tells whether
inputs lie inside the program's specs (static sizes, ranges, derived sizes, guards).
For strict_tracer's own fuzzing: the random program generator `programs()`, `check_program`
and the campaign runner (`python -m strict_tracer.testing.campaign`).
"""
from .differential import Outcome, check_program
from .eager import assert_matches_eager
from .programs import Program, programs
from .strategies import accepts, inputs_for, violating_inputs

__all__ = ["Outcome", "accepts", "Program", "assert_matches_eager", "check_program", "inputs_for",
           "programs", "violating_inputs"]
