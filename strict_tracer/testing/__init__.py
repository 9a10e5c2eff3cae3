"""Testing helpers: random program generation and differential checks against eager."""
from .differential import Outcome, check_program
from .programs import Program, programs

__all__ = ["Outcome", "Program", "check_program", "programs"]
