"""Testing helpers.

For users: `inputs_for(ep)` / `violating_inputs(ep)` (hypothesis strategies drawing inputs
inside / outside an ExportedProgram's input specs and range constraints) and
`assert_matches_eager(mod, ep, *args, **kwargs)`. For strict_tracer's own fuzzing: the random
program generator `programs()` and `check_program`.
"""
from .differential import Outcome, check_program
from .eager import assert_matches_eager
from .programs import Program, programs
from .strategies import inputs_for, violating_inputs

__all__ = ["Outcome", "Program", "assert_matches_eager", "check_program", "inputs_for",
           "programs", "violating_inputs"]
